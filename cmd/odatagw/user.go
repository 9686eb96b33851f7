package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

type userCmd struct {
	List   userListCmd   `cmd:"" help:"List the gateway's users (never their passwords or tokens)."`
	Add    userAddCmd    `cmd:"" help:"Add a user who may call sources that accept passwords (HTTP Basic) or API tokens."`
	Update userUpdateCmd `cmd:"" help:"Change a user's database role, password, or token."`
	Remove userRemoveCmd `cmd:"" help:"Remove a user; their credentials stop working at once on this gateway and within 30 s on the others."`
}

type userListCmd struct {
	adminFlags
}

type userAddCmd struct {
	adminFlags
	Name          string `arg:""`
	Token         bool   `help:"Make an API token instead of a password; it is printed once."`
	Role          string `placeholder:"ROLE" help:"Database role the user's requests run as, where a source has per_user on."`
	PasswordStdin bool   `help:"Read the password from standard input."`
}

type userUpdateCmd struct {
	adminFlags
	Name          string `arg:""`
	Role          string `placeholder:"ROLE" help:"Database role (empty: none)."`
	PasswordStdin bool   `help:"Read a new password from standard input."`
	RotateToken   bool   `help:"Give a token user a new token (printed once); the old one stops working."`
}

type userRemoveCmd struct {
	adminFlags
	Name string `arg:""`
}

func readSecret(stdin io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(stdin, 4096))
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (c *userCmd) run(command string, stdin io.Reader, stdout io.Writer) error {
	ctx, cancel := ctxTimeout()
	defer cancel()
	switch command {
	case "user list":
		cl, err := c.List.client()
		if err != nil {
			return err
		}
		us, err := cl.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKIND\tROLE\tCREATED")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Kind, u.Role, u.CreatedAt.Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "user add <name>":
		cl, err := c.Add.client()
		if err != nil {
			return err
		}
		kind, password := "password", ""
		if c.Add.Token {
			kind = "token"
		} else {
			if !c.Add.PasswordStdin {
				return errors.New("give the password on standard input with --password-stdin (or --token for an API token)")
			}
			if password, err = readSecret(stdin); err != nil {
				return err
			}
		}
		u, err := cl.AddUser(ctx, c.Add.Name, kind, password, c.Add.Role)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s user %s\n", u.Kind, u.Name)
		if u.Token != "" {
			fmt.Fprintf(stdout, "token (shown once): %s\n", u.Token)
		}
		return nil
	case "user update <name>":
		cl, err := c.Update.client()
		if err != nil {
			return err
		}
		password := ""
		if c.Update.PasswordStdin {
			if password, err = readSecret(stdin); err != nil {
				return err
			}
		}
		u, err := cl.UpdateUser(ctx, c.Update.Name, c.Update.Role, password, c.Update.RotateToken)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "updated %s\n", u.Name)
		if u.Token != "" {
			fmt.Fprintf(stdout, "token (shown once): %s\n", u.Token)
		}
		return nil
	case "user remove <name>":
		cl, err := c.Remove.client()
		if err != nil {
			return err
		}
		if err := cl.RemoveUser(ctx, c.Remove.Name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", c.Remove.Name)
		return nil
	}
	return fmt.Errorf("unknown command %s", command)
}
