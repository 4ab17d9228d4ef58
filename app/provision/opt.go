package provision

// Opt is a PATCH field: absent (Set false), explicitly null (Null), or a value.
type Opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

// Val returns an Opt holding v.
func Val[T any](v T) Opt[T] { return Opt[T]{Set: true, V: v} }

// Ptr returns the value as a pointer (nil for null).
func (o Opt[T]) Ptr() *T {
	if o.Null {
		return nil
	}
	v := o.V
	return &v
}
