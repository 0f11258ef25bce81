package engine

// objects is a worker's table of Go values that Lua holds as userdata. An id is a slot
// index (low 32 bits) and the slot's generation (high 32 bits), so a stale id (an object
// closed and its slot reused) is detected instead of reaching another object.
type objects struct {
	slots []objSlot
	free  []uint32
	live  int
}

type objSlot struct {
	v   any
	cls *Class
	gen uint32
}

func (o *objects) add(cls *Class, v any) uint64 {
	var i uint32
	if n := len(o.free); n > 0 {
		i = o.free[n-1]
		o.free = o.free[:n-1]
	} else {
		o.slots = append(o.slots, objSlot{gen: 1})
		i = uint32(len(o.slots) - 1)
	}
	s := &o.slots[i]
	s.v, s.cls = v, cls
	o.live++
	return uint64(s.gen)<<32 | uint64(i)
}

func (o *objects) get(id uint64) (any, *Class) {
	i := uint32(id)
	if int(i) >= len(o.slots) {
		return nil, nil
	}
	s := &o.slots[i]
	if s.gen != uint32(id>>32) || s.cls == nil {
		return nil, nil
	}
	return s.v, s.cls
}

// remove frees the slot; it reports whether id was live.
func (o *objects) remove(id uint64) bool {
	i := uint32(id)
	if int(i) >= len(o.slots) {
		return false
	}
	s := &o.slots[i]
	if s.gen != uint32(id>>32) || s.cls == nil {
		return false
	}
	s.v, s.cls = nil, nil
	s.gen++
	o.free = append(o.free, i)
	o.live--
	return true
}
