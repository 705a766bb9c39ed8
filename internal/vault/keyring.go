package vault

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultID is the vault id Ansible gives a password that has none (one
// from --vault-password-file or ANSIBLE_VAULT_PASSWORD_FILE) and takes
// for a 1.1 vault text, which names none.
const DefaultID = "default"

// Keyring holds vault passwords by vault id, in the order they were given.
// Build it with Add or Load, then use it read-only (it is then safe for
// concurrent use). Its String lists vault ids only, never passwords.
type Keyring struct {
	keys []key
	// MatchIDOnly tries only the passwords whose id matches the vault
	// text's, as Ansible does with ANSIBLE_VAULT_ID_MATCH set.
	MatchIDOnly bool
	// Warnings lists the password sources Load could not use while
	// others worked (Ansible warns about them and goes on). One line each.
	Warnings []error
}

type key struct {
	id       string
	password []byte
}

// Add appends a password under a vault id ("" means DefaultID).
func (k *Keyring) Add(id string, password []byte) error {
	if id == "" {
		id = DefaultID
	}
	if len(password) == 0 {
		return fmt.Errorf("vault id %s: empty vault password", id)
	}
	k.keys = append(k.keys, key{id: id, password: append([]byte(nil), password...)})
	return nil
}

// Len is the number of passwords held.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// IDs lists the vault ids of the passwords held, in order (repeats kept).
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, len(k.keys))
	for i, e := range k.keys {
		ids[i] = e.id
	}
	return ids
}

// String names the vault ids held, never the passwords.
func (k Keyring) String() string {
	return "vault.Keyring{ids: " + strings.Join(k.IDs(), ", ") + "}"
}

// GoString is String, so that %#v does not print passwords either.
func (k Keyring) GoString() string { return k.String() }

// candidates orders the passwords to try for a text with vault id id:
// those of that id first, then (unless MatchIDOnly) the others in the
// order given. Ansible tries every password in the order given; only the
// right one passes the HMAC, so the result is the same and trying the
// matching id first just saves key derivations.
func (k *Keyring) candidates(id string) []key {
	var first, rest []key
	for _, e := range k.keys {
		if e.id == id {
			first = append(first, e)
		} else if !k.MatchIDOnly {
			rest = append(rest, e)
		}
	}
	return append(first, rest...)
}

// Opened is data that Keyring.Open read: its plaintext, and how it was
// encrypted so that Seal can write it back the same way. Its String shows
// no password and no plaintext.
type Opened struct {
	Plaintext []byte
	Encrypted bool   // false: the data was not a vault text
	VaultID   string // the header's vault id; "" for a 1.1 text
	KeyID     string // the keyring id whose password opened it
	password  []byte
}

// String describes how the data was stored, without secrets.
func (o Opened) String() string {
	switch {
	case !o.Encrypted:
		return "vault.Opened{plain}"
	case o.VaultID == "":
		return "vault.Opened{1.1, key " + o.KeyID + "}"
	}
	return "vault.Opened{1.2 " + o.VaultID + ", key " + o.KeyID + "}"
}

// GoString is String, so that %#v shows no secrets either.
func (o Opened) GoString() string { return o.String() }

// Seal returns what to write back for new contents of the data Open read:
// plaintext itself when that data was not encrypted, else plaintext
// encrypted with the same password and the same header (1.2 with the
// same vault id, or 1.1), under a fresh salt. (ansible-vault edit instead
// labels the result with the id of the password that opened it.)
func (o *Opened) Seal(plaintext []byte) ([]byte, error) {
	if !o.Encrypted {
		return plaintext, nil
	}
	return Encrypt(plaintext, o.password, o.VaultID)
}

// Open reads data that may be a vault text: a plain text is returned as
// it is (Encrypted false), a vault text decrypted with the keyring. name
// labels errors ("passwords.yml", "host_vars/a.yml:12"). Errors match
// ErrFormat, ErrWrongPassword or ErrNoPassword, and name the file and
// vault id, never a password.
func (k *Keyring) Open(name string, data []byte) (*Opened, error) {
	if !IsEncrypted(data) {
		return &Opened{Plaintext: data}, nil
	}
	return k.decrypt(name, data)
}

// decrypt opens a vault text; data that is not one is an ErrFormat.
func (k *Keyring) decrypt(name string, data []byte) (*Opened, error) {
	env, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	want := env.VaultID
	if want == "" {
		want = DefaultID
	}
	if k.Len() == 0 {
		return nil, fmt.Errorf("%s: is ansible-vault encrypted (%s) and no vault password was given (--vault-password-file, --vault-id or ANSIBLE_VAULT_PASSWORD_FILE): %w", name, describeID(env.VaultID), ErrNoPassword)
	}
	var tried []string
	for _, e := range k.candidates(want) {
		plain, err := env.Decrypt(e.password)
		if errors.Is(err, ErrWrongPassword) {
			tried = append(tried, e.id)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &Opened{Plaintext: plain, Encrypted: true, VaultID: env.VaultID, KeyID: e.id, password: e.password}, nil
	}
	return nil, wrongPassword(name, env.VaultID, tried)
}

func wrongPassword(name, vaultID string, tried []string) error {
	if len(tried) == 0 {
		return fmt.Errorf("%s: %w (%s; no password has that id and ANSIBLE_VAULT_ID_MATCH allows no other)", name, ErrWrongPassword, describeID(vaultID))
	}
	if len(tried) == 1 {
		return fmt.Errorf("%s: %w (%s)", name, ErrWrongPassword, describeID(vaultID))
	}
	return fmt.Errorf("%s: no vault password decrypts it (%s; tried the passwords of ids %s): %w", name, describeID(vaultID), strings.Join(tried, ", "), ErrWrongPassword)
}

func describeID(vaultID string) string {
	if vaultID == "" {
		return "format 1.1, no vault id"
	}
	return "vault id " + vaultID
}

// Encrypt encrypts plaintext for a new file with the password of vault id
// id, as ansible-vault encrypt --encrypt-vault-id does: "" picks the only
// password held (it is an error to hold several); the header names the id
// (1.2) unless it is DefaultID (1.1).
func (k *Keyring) Encrypt(plaintext []byte, id string) ([]byte, error) {
	pick, err := k.encryptKey(id)
	if err != nil {
		return nil, err
	}
	header := pick.id
	if header == DefaultID {
		header = ""
	}
	return Encrypt(plaintext, pick.password, header)
}

func (k *Keyring) encryptKey(id string) (*key, error) {
	if id == "" {
		switch k.Len() {
		case 0:
			return nil, fmt.Errorf("no vault password given to encrypt with: %w", ErrNoPassword)
		case 1:
			return &k.keys[0], nil
		}
		return nil, fmt.Errorf("vault passwords of ids %s are given: name the one to encrypt with", strings.Join(k.IDs(), ", "))
	}
	for i := range k.Len() {
		if k.keys[i].id == id {
			return &k.keys[i], nil
		}
	}
	return nil, fmt.Errorf("no vault password of id %s to encrypt with (ids given: %s)", id, strings.Join(k.IDs(), ", "))
}
