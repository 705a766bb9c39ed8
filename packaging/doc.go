// Package packaging holds no code: it is the release packaging of
// libvirt-pki (build.sh, nfpm.yaml, the systemd units, the expiry-textfile
// wrapper, the Prometheus alerting rules) and the Go tests that check those
// files with the real tools: systemd-analyze verify, promtool check rules
// and promtool test rules, the latter on metrics made by the real audit code.
package packaging
