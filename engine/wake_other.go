//go:build !linux

package engine

func newAlarm(w *Worker) alarm { return newRuntimeAlarm(w) }
