package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/redisflags/redisflags/console"
)

// stdin is where "redisflags user" reads the password; a variable for tests.
var stdin io.Reader = os.Stdin

// runUser is "redisflags user NAME ROLE": it reads a password (one line on
// standard input, so that it is in no shell history) and prints the line
// of a --users file for it, "name:role:bcrypt-hash". The password itself is
// never printed.
func runUser(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user", "user NAME viewer|editor|admin   (reads the password from standard input)", stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 2, 2); err != nil {
		return err
	}
	name, roleName := pos[0], pos[1]
	role, err := console.ParseRole(roleName)
	if err != nil {
		return err
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if len(password) < 8 || len(password) > 72 {
		return errors.New("the password must be 8 to 72 bytes (bcrypt reads no more)")
	}
	hash, err := console.HashPassword(password)
	if err != nil {
		return err
	}
	entry := name + ":" + role.String() + ":" + hash
	if _, err := console.ParseUsers(strings.NewReader(entry)); err != nil {
		return err
	}
	fmt.Fprintln(stdout, entry)
	return nil
}
