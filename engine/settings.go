package engine

import (
	"flag"
	"fmt"
)

// A binding's settings (its command-line flags, the values its tests use) are a struct of
// its own, declared as a Setting: typed, with defaults, and stored in the Config that an
// engine is made from, so that two engines of one process can be configured apart. The
// engine reads none of them.
//
//	type Options struct{ HandlerTimeout time.Duration }
//	var Settings = engine.NewSetting("http", Options{HandlerTimeout: time.Minute})
//	...
//	opts := Settings.Get(w.Engine())          // in the binding
//	Settings.Ptr(&cfg).HandlerTimeout = time.Second // in a test, before engine.New
//
// A module's Flags binds its flags to Settings.Ptr(c), so that parsing fills them in.

// Setting is one binding's settings, of type T (a struct, usually).
type Setting[T any] struct {
	name string
	i    int
	def  T
}

// NewSetting declares settings named name (for messages) with their defaults. Call it at
// init, as a package variable's initializer.
func NewSetting[T any](name string, def T) *Setting[T] {
	if name == "" {
		panic("engine: NewSetting with an empty name")
	}
	return &Setting[T]{name: name, i: declareLocal(&settingCount, "a Setting "+name), def: def}
}

var settingCount int

// Ptr returns c's value of the setting, the defaults until something sets it, for reading
// or changing it before the engine is made.
func (s *Setting[T]) Ptr(c *Config) *T {
	if c.settings == nil {
		c.settings = map[int]settingValue{}
	}
	if v, ok := c.settings[s.i]; ok {
		return &v.(*settingBox[T]).v
	}
	b := &settingBox[T]{v: s.def}
	c.settings[s.i] = b
	return &b.v
}

// Of returns c's value of the setting (the defaults when nothing set it).
func (s *Setting[T]) Of(c *Config) T {
	if v, ok := c.settings[s.i]; ok {
		return v.(*settingBox[T]).v
	}
	return s.def
}

// Get returns the engine's value of the setting. Safe from any goroutine: an engine's
// configuration does not change once it is made.
func (s *Setting[T]) Get(e *Engine) T { return s.Of(&e.cfg) }

// settingValue is a setting's value in a Config, boxed so that the Config can copy it
// without knowing its type.
type settingValue interface{ clone() settingValue }

type settingBox[T any] struct{ v T }

func (b *settingBox[T]) clone() settingValue { return &settingBox[T]{v: b.v} }

// cloneSettings gives cfg copies of the values, so that changing the Config an engine was
// made from changes nothing in the engine. The copies are shallow: a setting holds plain
// values (a slice in it must not be written to once an engine is made from it).
func cloneSettings(cfg *Config) {
	if cfg.settings == nil {
		return
	}
	m := make(map[int]settingValue, len(cfg.settings))
	for i, v := range cfg.settings {
		m[i] = v.clone()
	}
	cfg.settings = m
}

// Flags defines the command-line flags of every registered module on fs, bound to cfg's
// settings: parsing fs fills them in. Call it before fs.Parse, then make the engine.
func Flags(fs *flag.FlagSet, cfg *Config) {
	for _, m := range registeredModules() {
		if m.Flags != nil {
			m.Flags(fs, cfg)
		}
	}
}

// configure lets every module adjust the configuration an engine is made from (its
// Configure), once the flags are parsed.
func configure(cfg *Config) error {
	for _, m := range registeredModules() {
		if m.Configure != nil {
			if err := m.Configure(cfg); err != nil {
				name := m.Name
				if name == "" {
					name = "globals"
				}
				return fmt.Errorf("module %s: %w", name, err)
			}
		}
	}
	return nil
}
