package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line progress bar on a terminal:
//
//	importing [##########..........]  512/1000  51%
//
// It draws nothing when w is not a terminal (a pipe, a file, a test), so
// logs and scripts never see it. Safe for concurrent use.
type progress struct {
	w     io.Writer
	label string
	total int

	mu    sync.Mutex
	done  int
	drawn time.Time
}

// newProgress returns a bar for total steps, or nil (whose methods do
// nothing) when w is not a terminal or there is nothing to count.
func newProgress(w io.Writer, label string, total int) *progress {
	if total <= 0 || !isTerminal(w) {
		return nil
	}
	return &progress{w: w, label: label, total: total}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// add counts n more steps done, redrawing at most ten times a second.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = min(p.done+n, p.total)
	if t := time.Now(); t.Sub(p.drawn) >= 100*time.Millisecond || p.done == p.total {
		p.drawn = t
		p.draw()
	}
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	fmt.Fprintln(p.w)
}

func (p *progress) draw() {
	const width = 30
	full := width * p.done / p.total
	fmt.Fprintf(p.w, "\r%s [%s%s] %*d/%d %3d%%", p.label,
		strings.Repeat("#", full), strings.Repeat(".", width-full),
		len(fmt.Sprint(p.total)), p.done, p.total, 100*p.done/p.total)
}
