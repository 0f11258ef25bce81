package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/drlee/drlee/engine"
	"github.com/drlee/drlee/packed"
)

// repl is the state of `drlee repl`: the lines read from its input, and the worker's
// answer to each (whether the chunk so far wants more lines).
type repl struct {
	lines <-chan string // closed at EOF
	ready chan bool     // after each line: true when the chunk is incomplete
}

const (
	prompt         = "> "
	continuePrompt = ">> "
)

// REPL runs `drlee repl`: an engine of one worker (cfg.Script, when set, is loaded first so
// that its globals exist), then a prompt on that worker's loop. Each line (or lines, while
// the chunk is incomplete) runs in a runtime thread, so a call without its callback waits
// for its result; the results are printed, errors too, and the REPL goes on. It ends at the
// end of in: the engine then shuts down as on SIGTERM. It returns the exit code: 1 when the
// script failed to load, 0 otherwise.
func REPL(cfg engine.Config, in io.Reader) int {
	cfg.Workers = 1
	if cfg.Script == "" {
		cfg.Script = devNull
		settings.Ptr(&cfg).source = &source{name: "(repl)", noScript: true}
	}
	// The reader blocks in read(2), which nothing can interrupt on a terminal or a pipe: it
	// is the REPL's own goroutine, not the engine's, and after the engine ended it is left
	// behind only until the process exits (quit ends it as soon as it has a line to hand).
	lines := make(chan string)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-quit:
				return
			}
		}
	}()
	settings.Ptr(&cfg).kind = "repl"
	settings.Ptr(&cfg).repl = &repl{lines: lines, ready: make(chan bool, 1)}
	e, err := engine.New(cfg)
	if err != nil {
		io.WriteString(cfg.Stderr, "drlee: "+err.Error()+"\n")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := e.Run(ctx); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			io.WriteString(cfg.Stderr, "drlee: "+err.Error()+"\n")
		}
		return 1
	}
	return 0
}

// start runs on the loop once the script ran: the worker stays up for the REPL, whose
// driver (a goroutine the engine owns) prompts, hands each line to the loop and waits for
// its answer.
func (r *repl) start(w *engine.Worker) {
	w.Hold()
	e := w.Engine()
	e.Go("cli: repl", func() { r.drive(w) })
}

func (r *repl) drive(w *engine.Worker) {
	e := w.Engine()
	p := prompt
	for {
		e.WriteStdout([]byte(p))
		var line string
		var ok bool
		select {
		case line, ok = <-r.lines:
		case <-e.Stopping():
			return
		}
		if !ok { // EOF, ctrl-D
			e.WriteStdout([]byte("\n"))
			w.Post(engine.TaskFunc(func(w *engine.Worker) { w.Unhold() }))
			e.Shutdown()
			return
		}
		if w.Post(engine.TaskFunc(func(w *engine.Worker) { r.eval(w, line) })) != nil {
			return // the worker ended
		}
		select {
		case more := <-r.ready:
			p = prompt
			if more {
				p = continuePrompt
			}
		case <-e.Stopping():
			return
		}
	}
}

// eval hands a line to the prelude's repl_line, which answers with __drlee_cli_ready.
func (r *repl) eval(w *engine.Worker, line string) {
	h := workerHooks.Get(w)
	var v packed.Writer
	v.String(line)
	if h.replLine == 0 || w.CallRef(h.replLine, v.B) != nil {
		r.answer(false) // it raised outside its own xpcall (reported): the next prompt
	}
}

func (r *repl) answer(more bool) {
	select {
	case r.ready <- more:
	default:
	}
}

// __drlee_cli_ready(more): the line was evaluated (or the chunk wants more).
func replReady(c *engine.Call) int {
	m := settings.Get(engine.WorkerOf(c).Engine())
	if m.repl == nil {
		c.Raise("no REPL")
	}
	m.repl.answer(c.Bool(1))
	return 0
}

// __drlee_cli_report(msg): an error of a line, on stderr.
func replReport(c *engine.Call) int {
	e := engine.WorkerOf(c).Engine()
	msg := c.CheckString(1)
	io.WriteString(e.Config().Stderr, cleanTraceback(msg)+"\n")
	return 0
}
