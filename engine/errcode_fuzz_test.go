package engine_test

// Fuzz targets of the error codes (make fuzz runs them for FUZZTIME):
//
//	FuzzParseErrorCode  ParseErrorCode on any string: a known code or EUNKNOWN, never a
//	                    panic; "CODE: text" and "CODE" read back as CODE.
//	FuzzErrorString     an error of any text, with or without a code attached or wrapped:
//	                    ErrorString starts with its code, which ParseErrorCode reads back.

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/drlee/drlee/engine"
)

func FuzzParseErrorCode(f *testing.F) {
	for _, s := range []string{
		"", "E", "ENOENT", "ENOENT:", "ENOENT: open /x: no such file or directory",
		"EAI_AGAIN: lookup", "ERROR: x", "EOF", "main.lua:1: ENOENT: x", "\x00ENOENT",
		"ENOENT\n: x", strings.Repeat("E", 40), "EUNKNOWN: EUNKNOWN: x",
	} {
		f.Add(s)
	}
	codes := engine.ErrorCodes()
	f.Fuzz(func(t *testing.T, s string) {
		got := engine.ParseErrorCode(s)
		if !engine.IsErrorCode(got) {
			t.Fatalf("ParseErrorCode(%q) = %q, not a code", s, got)
		}
		if got != engine.CodeUnknown && !strings.HasPrefix(s, got) {
			t.Fatalf("ParseErrorCode(%q) = %q, which %q does not start with", s, got, s)
		}
		if got != engine.CodeUnknown && len(s) > len(got) && s[len(got)] != ':' {
			t.Fatalf("ParseErrorCode(%q) = %q, not followed by ':'", s, got)
		}
		// Any code in front of any text reads back as that code.
		c := codes[len(s)%len(codes)]
		if back := engine.ParseErrorCode(c + ": " + s); back != c {
			t.Fatalf("ParseErrorCode(%q) = %q, want %q", c+": "+s, back, c)
		}
	})
}

func FuzzErrorString(f *testing.F) {
	f.Add("oops", 0, uint8(0))
	f.Add("ENOENT: already coded", 3, uint8(1))
	f.Add("", 5, uint8(2))
	f.Add("EPIPE", 7, uint8(3))
	codes := engine.ErrorCodes()
	f.Fuzz(func(t *testing.T, text string, i int, how uint8) {
		code := codes[uint(i)%uint(len(codes))]
		var err error
		want := ""
		switch how % 4 {
		case 0: // a plain error: its text's code, never
			err = errors.New(text)
			want = engine.CodeUnknown
		case 1: // a code attached
			err = engine.WithCode(code, errors.New(text))
			want = code
		case 2: // a code attached, then wrapped
			err = fmt.Errorf("context: %w", engine.WithCode(code, errors.New(text)))
			want = code
		case 3: // a script's text: as it is
			err = engine.ScriptError(text)
			if s := engine.ErrorString(err); s != text {
				t.Fatalf("ErrorString(ScriptError(%q)) = %q", text, s)
			}
			if got, want := engine.ErrorCode(err), engine.ParseErrorCode(text); got != want {
				t.Fatalf("ErrorCode(ScriptError(%q)) = %q, want %q", text, got, want)
			}
			return
		}
		if got := engine.ErrorCode(err); got != want {
			t.Fatalf("ErrorCode(%q) = %q, want %q", err, got, want)
		}
		s := engine.ErrorString(err)
		if got := engine.ParseErrorCode(s); got != want {
			t.Fatalf("ParseErrorCode(ErrorString(%q)) = %q (%q), want %q", err, got, s, want)
		}
		if !strings.HasSuffix(s, err.Error()) {
			t.Fatalf("ErrorString(%q) = %q lost the text", err, s)
		}
	})
}
