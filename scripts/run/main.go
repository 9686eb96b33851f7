// Command run builds odatagw and runs it with the arguments given, saying
// how far the build has got: the README's first command, `go run
// ./scripts/run serve`. A first build compiles some 580 packages (about a
// minute on two cores) where `go run ./cmd/odatagw` would print nothing
// after the downloads; later builds come from Go's cache in seconds.
//
// It builds as the README's build command does (-tags nomsgpack leaves
// out the MessagePack codec gin would otherwise compile, a quarter of the
// build), into a temporary directory removed when odatagw ends, and passes
// SIGINT and SIGTERM on to it.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// buildFlags are the README's: see the package comment.
var buildFlags = []string{"-tags", "nomsgpack", "-buildvcs=auto"}

const pkg = "./cmd/odatagw"

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, out io.Writer) int {
	dir, err := os.MkdirTemp("", "odatagw-run-")
	if err != nil {
		fmt.Fprintln(out, "odatagw:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "odatagw")
	if err := build(bin, out); err != nil {
		fmt.Fprintln(out, "odatagw: the build failed:", err)
		return 1
	}
	return serve(bin, args, out)
}

// build compiles odatagw into bin, counting the packages `go build -v`
// names as it compiles them against those the program needs.
func build(bin string, out io.Writer) error {
	start := time.Now()
	fmt.Fprintln(out, "odatagw: reading the module's dependencies (the first time, Go downloads them)")
	list := exec.Command("go", append([]string{"list", "-deps"}, append(buildFlags, pkg)...)...)
	list.Stderr = out
	names, err := list.Output()
	if err != nil {
		return err
	}
	total := strings.Count(string(names), "\n")
	cmd := exec.Command("go", append(append([]string{"build", "-v", "-o", bin}, buildFlags...), pkg)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := progress{out: out, total: total, start: start, terminal: isTerminal(out)}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if isPackage(line) {
			p.compiled()
			continue
		}
		p.say(line) // an error, or a download: passed on as is
	}
	err = cmd.Wait()
	p.done(err == nil)
	return err
}

// isPackage tells a package path, which go build -v prints as it compiles
// one, from anything else it says.
func isPackage(line string) bool {
	return line != "" && !strings.ContainsAny(line, " \t:") && !strings.HasPrefix(line, "#")
}

// progress says how many packages are compiled: on one line rewritten in
// place on a terminal, else a line at each tenth.
type progress struct {
	out      io.Writer
	total, n int
	start    time.Time
	terminal bool
	shown    int // the tenths said, off a terminal
	drawn    bool
}

func (p *progress) compiled() {
	p.n++
	if p.n == 1 {
		fmt.Fprintf(p.out, "odatagw: compiling %d packages (a first build takes a minute or two; later ones seconds)\n", p.total)
	}
	switch {
	case p.terminal:
		fmt.Fprintf(p.out, "\rodatagw: compiling: %d of %d packages, %s", min(p.n, p.total), p.total, p.elapsed())
		p.drawn = true
	case p.n*10/max(p.total, 1) > p.shown:
		p.shown = p.n * 10 / max(p.total, 1)
		fmt.Fprintf(p.out, "odatagw: compiled %d of %d packages, %s\n", min(p.n, p.total), p.total, p.elapsed())
	}
}

func (p *progress) say(line string) {
	if p.drawn {
		fmt.Fprintln(p.out)
		p.drawn = false
	}
	fmt.Fprintln(p.out, line)
}

func (p *progress) done(ok bool) {
	if p.drawn {
		fmt.Fprintln(p.out)
	}
	if ok && p.n > 0 {
		fmt.Fprintf(p.out, "odatagw: built in %s\n", p.elapsed())
	}
}

func (p *progress) elapsed() string { return time.Since(p.start).Round(time.Second).String() }

// isTerminal reports whether w is a character device, where a line can
// be rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// serve runs odatagw until it ends, passing it the signals that stop it,
// and answers its exit code.
func serve(bin string, args []string, out io.Writer) int {
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(out, "odatagw:", err)
		return 1
	}
	go func() {
		for s := range sig {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(out, "odatagw:", err)
		return 1
	}
	return 0
}
