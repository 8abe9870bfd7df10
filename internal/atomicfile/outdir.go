package atomicfile

// Output directories written in generations, so that their files change together even
// through SIGKILL, an out-of-memory kill or a power loss:
//
//	DIR/.goodnet/lock                       flock(2)ed by the run writing into DIR
//	DIR/.goodnet/gen-<random>/              one run's complete outputs
//	DIR/.goodnet/current -> gen-<random>    the current generation: the only name a run switches
//	DIR/.goodnet/previous -> gen-<random>   the one before (kept for readers that resolved it)
//	DIR/<name> -> .goodnet/current/<name>   one link per output file
//
// A run writes every file into a new generation directory, fsyncs the files and the
// directory, adds the links its new names need (they dangle until the switch), then replaces
// `current` by renaming a new symlink over it and fsyncs .goodnet: before that rename every
// name in DIR resolves into the previous generation (or to nothing), after it into the new
// one. Then it removes the links of names the new generation lacks (they dangle meanwhile:
// a stale file never looks current), and the generations older than the previous one.
// Whatever the moment a run dies, DIR's names resolve into one complete generation; what a
// killed run leaves in .goodnet (a generation never switched to, a temporary link) is
// removed by the next run into DIR.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MetaDir is the hidden folder of an output directory that holds its generations and lock.
const MetaDir = ".goodnet"

// legacyOutput matches the files that goodnet prune wrote directly into --out before
// generations: a first generation run moves them into .goodnet/legacy/.
var legacyOutput = regexp.MustCompile(`^(report\.json|sweep\.csv|sweep\.png|bprime_.+\.(h5|onnx|keras))$`)

// OutDir is an output directory this process writes into, locked against other runs.
type OutDir struct {
	Dir     string
	abs     string
	meta    string
	lock    *os.File
	refs    int
	metaNew bool     // .goodnet was made by this run
	made    []string // directories made by this run (--out and missing parents), outermost first
	kept    bool     // a generation was switched to: what this run made stays
}

var (
	outMu   sync.Mutex
	outDirs = map[string]*OutDir{} // held by this process, by absolute path
)

// ErrBusy is the error of OpenOutDir (and CheckOutDir) when another run holds the directory.
var ErrBusy = errors.New("another goodnet run is writing into it")

// CheckOutDir checks, creating nothing, that dir can be an output directory: an existing
// writable directory that no other run is writing into, or a path whose nearest existing
// ancestor is a writable directory. A dangling symbolic link is named as such.
func CheckOutDir(dir string) error {
	if dir == "" {
		return errors.New("no output directory (--out)")
	}
	fi, err := os.Stat(dir)
	switch {
	case err == nil:
		if !fi.IsDir() {
			return fmt.Errorf("%s: cannot create the output directory: not a directory", dir)
		}
		if err := syscall.Access(dir, 2|1); err != nil { // W_OK|X_OK
			return fmt.Errorf("%s: output directory is not writable: %w", dir, err)
		}
		return checkLock(dir)
	case errors.Is(err, fs.ErrNotExist):
		// dir itself, or an ancestor, may be a dangling link; else the nearest existing
		// ancestor must be a writable directory
		for p := dir; ; {
			if l, err := os.Lstat(p); err == nil && l.Mode()&fs.ModeSymlink != 0 {
				target, _ := os.Readlink(p)
				if p == dir {
					return fmt.Errorf("%s: a dangling symbolic link (to %s): make the directory it names, or give another --out", dir, target)
				}
				return fmt.Errorf("%s: cannot create the output directory: %s is a dangling symbolic link (to %s)", dir, p, target)
			}
			parent := filepath.Dir(p)
			if parent == p {
				return nil
			}
			p = parent
			fi, err := os.Stat(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: cannot create the output directory: %w", dir, unwrapPath(err))
			}
			if !fi.IsDir() {
				return fmt.Errorf("%s: cannot create the output directory: %s is not a directory", dir, p)
			}
			if err := syscall.Access(p, 2|1); err != nil {
				return fmt.Errorf("%s: cannot create the output directory: %s: %w", dir, p, err)
			}
			return nil
		}
	default: // a file on the way (not a directory), a loop of links, no permission
		return fmt.Errorf("%s: cannot create the output directory: %w", dir, unwrapPath(err))
	}
}

// checkLock fails with ErrBusy when another process holds dir's lock (creating nothing).
func checkLock(dir string) error {
	f, err := os.Open(filepath.Join(dir, MetaDir, "lock"))
	if err != nil {
		return nil // no lock file: nobody has written here yet, or not goodnet
	}
	defer f.Close()
	if err := flock(f); err != nil {
		return busyError(dir, f, err)
	}
	return nil // released by Close
}

func busyError(dir string, f *os.File, err error) error {
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("%s: cannot lock the output directory: %w", dir, err)
	}
	holder := ""
	if b, err := os.ReadFile(f.Name()); err == nil {
		if h := strings.TrimSpace(string(b)); h != "" && len(h) < 200 && !strings.ContainsAny(h, "\n\x1b") {
			holder = " (" + h + ")"
		}
	}
	return fmt.Errorf("%s: %w%s: wait for it to finish, or give another --out", dir, ErrBusy, holder)
}

// flock takes an exclusive lock without waiting; file systems without locks count as locked
// by nobody.
func flock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return nil
	}
	return err
}

// OpenOutDir makes dir (and its missing parents) and takes its lock: a second run into the
// same directory fails at once with ErrBusy. Within one process it can be opened again (the
// job that holds it for a whole run, the writer of its files); Close each. Leftovers of runs
// that were killed (generations never switched to, temporary links) are removed.
func OpenOutDir(dir string) (*OutDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	outMu.Lock()
	defer outMu.Unlock()
	if o := outDirs[abs]; o != nil {
		o.refs++
		return o, nil
	}
	if err := CheckOutDir(dir); err != nil {
		return nil, err
	}
	o := &OutDir{Dir: dir, abs: abs, meta: filepath.Join(dir, MetaDir), refs: 1}
	if err := o.open(); err != nil {
		o.undo()
		return nil, err
	}
	outDirs[abs] = o
	return o, nil
}

func (o *OutDir) open() error {
	if err := o.mkdirs(); err != nil {
		return fmt.Errorf("%s: cannot create the output directory: %w", o.Dir, unwrapPath(err))
	}
	for try := 0; ; try++ {
		f, err := os.OpenFile(filepath.Join(o.meta, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("%s: cannot lock the output directory: %w", o.Dir, unwrapPath(err))
		}
		if err := flock(f); err != nil {
			f.Close()
			return busyError(o.Dir, f, err)
		}
		// The lock file may have been removed (by a run that made .goodnet and failed)
		// between our open and our lock: then lock the one now there.
		var a, b syscall.Stat_t
		if syscall.Fstat(int(f.Fd()), &a) == nil && syscall.Stat(f.Name(), &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev || try == 5 {
			o.lock = f
			break
		}
		f.Close()
	}
	host, _ := os.Hostname()
	o.lock.Truncate(0)
	fmt.Fprintf(o.lock, "pid %d on %s since %s\n", os.Getpid(), host, time.Now().Format("15:04:05"))
	o.clean()
	return nil
}

// mkdirs makes --out, its missing parents and .goodnet, recording each for undo (and for
// Interrupt).
func (o *OutDir) mkdirs() error {
	var missing []string
	for p := o.abs; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || filepath.Dir(p) == p {
			break
		}
		missing = append(missing, p)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		mu.Lock()
		err := os.Mkdir(missing[i], 0o755)
		if err == nil {
			o.made = append(o.made, missing[i])
			dirs = append(dirs, missing[i])
		}
		mu.Unlock()
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	mu.Lock()
	defer mu.Unlock()
	err := os.Mkdir(o.meta, 0o755)
	if err == nil {
		o.metaNew = true
		trees[o.meta] = true
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		if fi, err := os.Lstat(o.meta); err == nil && !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", o.meta)
		}
		return nil
	}
	return err
}

// clean removes what killed runs left in .goodnet: everything but the lock, the current and
// previous links and their generations, and legacy/.
func (o *OutDir) clean() {
	keep := map[string]bool{"lock": true, "current": true, "previous": true, "legacy": true}
	for _, l := range []string{"current", "previous"} {
		if t, err := os.Readlink(filepath.Join(o.meta, l)); err == nil {
			keep[t] = true
		}
	}
	ents, _ := os.ReadDir(o.meta)
	for _, e := range ents {
		if !keep[e.Name()] {
			os.RemoveAll(filepath.Join(o.meta, e.Name()))
		}
	}
}

// Close releases the directory (once every opener has closed it). When no generation was
// switched to, the directories this run made are removed: a failed run leaves no new
// directory.
func (o *OutDir) Close() {
	outMu.Lock()
	defer outMu.Unlock()
	if o.refs--; o.refs > 0 {
		return
	}
	delete(outDirs, o.abs)
	o.undo()
	if o.lock != nil {
		o.lock.Close()
	}
}

// undo removes what this run made, unless a generation was switched to.
func (o *OutDir) undo() {
	mu.Lock()
	defer mu.Unlock()
	if o.kept {
		return
	}
	if o.metaNew {
		os.RemoveAll(o.meta)
		delete(trees, o.meta)
	}
	for i := len(o.made) - 1; i >= 0; i-- {
		os.Remove(o.made[i])
		dirs = slicesDelete(dirs, o.made[i])
	}
}

func slicesDelete(s []string, v string) []string {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// A Generation is one run's set of output files, written into Dir and switched to at once.
type Generation struct {
	out  *OutDir
	Dir  string
	done bool
}

// NewGeneration makes an empty generation directory: write the outputs into Dir (by their
// final names; temporary files there start with a dot), then Commit.
func (o *OutDir) NewGeneration() (*Generation, error) {
	mu.Lock()
	defer mu.Unlock()
	d, err := os.MkdirTemp(o.meta, "gen-")
	if err != nil {
		return nil, fmt.Errorf("%s: cannot write: %w", o.Dir, unwrapPath(err))
	}
	os.Chmod(d, 0o755)
	trees[d] = true
	return &Generation{out: o, Dir: d}, nil
}

// Abort removes a generation that was not committed.
func (g *Generation) Abort() {
	mu.Lock()
	defer mu.Unlock()
	if g.done {
		return
	}
	g.done = true
	os.RemoveAll(g.Dir)
	delete(trees, g.Dir)
}

// Commit makes the generation current: its files and directory are synced, the links of
// --out made, and .goodnet/current switched by one rename (synced). An error before the
// switch leaves the directory as it was; after it there are none (what follows is cleanup).
func (g *Generation) Commit() error {
	mu.Lock()
	defer mu.Unlock()
	if g.done {
		return errors.New("atomicfile: generation committed twice")
	}
	o := g.out
	ents, err := os.ReadDir(g.Dir)
	if err != nil {
		return fmt.Errorf("%s: %w", o.Dir, unwrapPath(err))
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
		if err := syncPath(filepath.Join(g.Dir, e.Name())); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(o.Dir, e.Name()), err)
		}
	}
	if err := syncPath(g.Dir); err != nil {
		return fmt.Errorf("%s: %w", o.Dir, err)
	}
	cur, _ := os.Readlink(filepath.Join(o.meta, "current"))
	if cur == "" {
		if err := o.moveLegacy(names); err != nil {
			return err
		}
	}
	// the links of new names (dangling until the switch)
	var made []string
	fail := func(err error) error {
		for _, p := range made {
			os.Remove(p)
		}
		return err
	}
	for _, n := range names {
		p := filepath.Join(o.Dir, n)
		want := filepath.Join(MetaDir, "current", n)
		if t, err := os.Readlink(p); err == nil && t == want {
			continue
		}
		_, statErr := os.Lstat(p)
		if err := o.symlink(want, p); err != nil {
			return fail(fmt.Errorf("%s: cannot write: %w", p, err))
		}
		if statErr != nil {
			made = append(made, p)
		}
	}
	if err := syncPath(o.Dir); err != nil {
		return fail(fmt.Errorf("%s: %w", o.Dir, err))
	}
	// the switch
	if err := o.symlink(filepath.Base(g.Dir), filepath.Join(o.meta, "current")); err != nil {
		return fail(fmt.Errorf("%s: cannot write: %w", o.Dir, err))
	}
	if err := syncPath(o.meta); err != nil {
		return fmt.Errorf("%s: %w", o.Dir, err) // switched, perhaps not yet durably
	}
	g.done, o.kept = true, true
	delete(trees, g.Dir)
	delete(trees, o.meta)
	for _, d := range o.made {
		dirs = slicesDelete(dirs, d)
	}
	if cur != "" && cur != filepath.Base(g.Dir) {
		o.symlink(cur, filepath.Join(o.meta, "previous"))
	}
	// stale names: links into current whose file the new generation lacks
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	top, _ := os.ReadDir(o.Dir)
	for _, e := range top {
		p := filepath.Join(o.Dir, e.Name())
		if t, err := os.Readlink(p); err == nil && t == filepath.Join(MetaDir, "current", e.Name()) && !have[e.Name()] {
			os.Remove(p)
		}
	}
	syncPath(o.Dir)
	o.clean()
	return nil
}

// moveLegacy moves the outputs of a goodnet that wrote --out without generations into
// .goodnet/legacy/ (a file the new generation also has is replaced by its link instead).
func (o *OutDir) moveLegacy(names []string) error {
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	ents, _ := os.ReadDir(o.Dir)
	for _, e := range ents {
		if !e.Type().IsRegular() || !legacyOutput.MatchString(e.Name()) || have[e.Name()] {
			continue
		}
		legacy := filepath.Join(o.meta, "legacy")
		if err := os.MkdirAll(legacy, 0o755); err != nil {
			return fmt.Errorf("%s: %w", legacy, unwrapPath(err))
		}
		if err := os.Rename(filepath.Join(o.Dir, e.Name()), filepath.Join(legacy, e.Name())); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(o.Dir, e.Name()), unwrapPath(err))
		}
	}
	return nil
}

// symlink makes path a symbolic link to target, atomically: a new link in .goodnet renamed
// over path.
func (o *OutDir) symlink(target, path string) error {
	for i := 0; ; i++ {
		tmp := filepath.Join(o.meta, "link-"+strconv.Itoa(os.Getpid())+"-"+strconv.Itoa(i)+".tmp")
		err := os.Symlink(target, tmp)
		if errors.Is(err, fs.ErrExist) && i < 100 {
			continue
		}
		if err != nil {
			return unwrapPath(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return unwrapPath(err)
		}
		return nil
	}
}

// syncPath fsyncs a file or directory.
func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return unwrapPath(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return unwrapPath(err)
	}
	return nil
}

// CurrentGeneration is the directory of dir's current generation, resolved once (read every
// file of one run through it), or "" when dir has none (not written by goodnet with
// generations).
func CurrentGeneration(dir string) (string, error) {
	t, err := os.Readlink(filepath.Join(dir, MetaDir, "current"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(dir, MetaDir, "current"), unwrapPath(err))
	}
	if !strings.HasPrefix(t, "gen-") || strings.ContainsRune(t, '/') {
		return "", fmt.Errorf("%s: not a goodnet generation (points to %q)", filepath.Join(dir, MetaDir, "current"), t)
	}
	return filepath.Join(dir, MetaDir, t), nil
}
