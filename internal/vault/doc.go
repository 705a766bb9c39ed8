// Package vault reads and writes Ansible Vault data (ansible-vault's
// "AES256" format), so that libvirt-pki can use the passwords.yml, globals,
// inventory files and private keys that deployments keep encrypted, and
// write them back encrypted.
//
// # Format
//
// A vault file is ASCII text. Its first line is a header,
//
//	$ANSIBLE_VAULT;1.1;AES256              (no vault id)
//	$ANSIBLE_VAULT;1.2;AES256;<vault-id>   (with a vault id)
//
// and the lines after it, 80 columns each, are the hex encoding of
//
//	hex(salt) "\n" hex(HMAC) "\n" hex(ciphertext)
//
// (hex inside hex: Ansible keeps it for compatibility). PBKDF2-HMAC-SHA256
// with 10,000 iterations turns the password and the salt into 80 bytes: an
// AES-256 key (32), an HMAC-SHA256 key (32) and the initial AES-CTR counter
// block (16). The plaintext is PKCS#7-padded to the AES block size and
// encrypted with AES-256-CTR; the HMAC is taken over the ciphertext. The
// vault id in a 1.2 header is a label that picks which password to try
// first: it is neither encrypted nor authenticated. A value in YAML may be
// a whole vault text on its own, tagged "!vault" (or "!vault-encrypted").
//
// # Security choices
//
//   - The HMAC is checked, in constant time (crypto/hmac.Equal), before
//     anything is decrypted, so a wrong password or a tampered file is
//     refused without looking at the plaintext; a wrong password is told
//     apart from a malformed file (ErrWrongPassword vs ErrFormat).
//   - The key derivation costs what Ansible's costs (PBKDF2, 10,000
//     iterations), since files must open in both; a fresh 32-byte random
//     salt is drawn for each encryption, as Ansible does.
//   - Inputs are bounded (MaxVaultText, MaxPlaintext) so a wrong file is
//     refused rather than decoded into memory.
//   - Vault passwords come from password files and password scripts (see
//     Load), never from argv, and are kept only in memory. Keyring and
//     Opened print vault ids, never passwords, and nothing here logs.
//   - This package never touches the disk except to read password files
//     and run password scripts. Keeping plaintext off the disk is the
//     callers' job: they must write only what Opened.Seal or Encrypt
//     returns for a file that was encrypted, and write it atomically
//     (internal/fsutil), so that no plaintext or half-written file is ever
//     left behind.
package vault
