//go:build linux

package pgserver

import (
	"errors"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// credential is the user the server runs as: PostgreSQL refuses root, so
// as root the server runs as the postgres user (Debian's package makes
// it) or else nobody; as anyone else, as themselves (nil).
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root and no postgres or nobody user to run PostgreSQL as")
}
