package report

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// Progress draws a one-line bar on a terminal; on anything else (a pipe, a file, --quiet) it
// draws nothing.
type Progress struct {
	w     io.Writer
	on    bool
	label string
	start time.Time
	last  time.Time
}

// NewProgress draws on f when f is a terminal and quiet is false.
func NewProgress(f *os.File, label string, quiet bool) *Progress {
	return &Progress{w: f, on: !quiet && term.IsTerminal(int(f.Fd())), label: label, start: time.Now()}
}

// Update shows done of total with a note.
func (p *Progress) Update(done, total int, note string) {
	if !p.on || total <= 0 {
		return
	}
	if done < total && time.Since(p.last) < 50*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	fill := width * done / total
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %s %.1fs\033[K", p.label, strings.Repeat("█", fill), strings.Repeat("·", width-fill),
		done, total, note, time.Since(p.start).Seconds())
}

// Done ends the bar's line.
func (p *Progress) Done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}

// Clear erases the bar's line (a terminal shares it with stdout): call it before printing a
// line there; the next Update draws the bar again.
func (p *Progress) Clear() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
		p.last = time.Time{}
	}
}
