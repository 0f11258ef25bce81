package kv

// Fuzz targets: FuzzNames (key, prefix and bucket name checks against JetStream's own
// rules, and the watch filter made from a prefix).

import (
	"regexp"
	"strings"
	"testing"
)

// JetStream's rules, as nats.go's jetstream package writes them (kv.go).
var (
	jsBucketRe    = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	jsKeyRe       = regexp.MustCompile(`^[-/_=\.a-zA-Z0-9]+$`)
	jsSearchKeyRe = regexp.MustCompile(`^[-/_=\.a-zA-Z0-9*]*[>]?$`)
)

// FuzzNames: what validKey accepts, JetStream accepts, and it is a subject of whole
// tokens; every start of a valid key is a valid prefix, whose filter JetStream accepts and
// which matches the key; validBucket is JetStream's rule with its length.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"", "a", "a.b", ".a", "a.", "a..b", "user.42", "s.0f-9a", "a b", "é", "a*", "a>", "=/_-", strings.Repeat("k", 1025)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		keyOK := validKey(s) == nil
		wantKey := jsKeyRe.MatchString(s) && len(s) <= maxKey && s[0] != '.' && s[len(s)-1] != '.' && !strings.Contains(s, "..")
		if keyOK != wantKey {
			t.Fatalf("validKey(%q) = %v, JetStream's rule and ours say %v", s, validKey(s), wantKey)
		}
		if keyOK {
			for i := 0; i <= len(s); i++ {
				p := s[:i]
				if err := validPrefix(p); err != nil {
					t.Fatalf("prefix %q of key %q refused: %v", p, s, err)
				}
				filter := watchFilter(p)
				if !jsSearchKeyRe.MatchString(filter) {
					t.Fatalf("filter %q of prefix %q is not a JetStream search key", filter, p)
				}
				base := strings.TrimSuffix(filter, ">")
				if !strings.HasPrefix(s, base) || (base != "" && len(s) == len(base)) {
					t.Fatalf("filter %q of prefix %q does not match key %q", filter, p, s)
				}
			}
		}
		bucketOK := validBucket(s) == nil
		if want := jsBucketRe.MatchString(s) && len(s) <= maxBucketName; bucketOK != want {
			t.Fatalf("validBucket(%q) = %v, want ok %v", s, validBucket(s), want)
		}
	})
}
