package httpsyntax

import "testing"

func TestValidToken(t *testing.T) {
	for _, s := range []string{"GET", "PURGE", "m-search", "X-Foo_1", "!#$%&'*+-.^_`|~09azAZ"} {
		if !ValidToken(s) || !ValidToken([]byte(s)) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "GET /EVIL", "GET\r\n", "X:A", "X\x00", "É", "a\tb", "(x)", "a\x7f"} {
		if ValidToken(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestValidFieldValue(t *testing.T) {
	for _, s := range []string{"", "text/plain; charset=utf-8", "a\tb", "été", " padded ", "\x80\xff"} {
		if !ValidFieldValue(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"a\r\nb", "a\nb", "a\rb", "a\x00b", "a\x7fb", "\x01", "a\x1b[31m"} {
		if ValidFieldValue(s) || ValidFieldValue([]byte(s)) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestOriginForm(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/a/b?c", "/a/b?c"},
		{"//h/x", "//h/x"},
		{"http://h/a/../b?q=1", "/a/../b?q=1"},
		{"HTTPS://u@h:1/x?y", "/x?y"},
		{"http://h?q=1", "/?q=1"},
		{"http://h", "/"},
		{"http://h#f", "/"},
		{"svn+ssh://h/x", "/x"},
		{"h:443", "h:443"},
		{"1http://h/x", "1http://h/x"},
		{"http:/x", "http:/x"},
		{"", ""},
	} {
		if got := string(OriginForm([]byte(tc.in))); got != tc.want {
			t.Errorf("OriginForm(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	target, name, value := []byte("/hello?x=1"), []byte("Content-Type"), []byte("text/plain")
	if n := testing.AllocsPerRun(100, func() {
		OriginForm(target)
		ValidToken(name)
		ValidFieldValue(value)
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
