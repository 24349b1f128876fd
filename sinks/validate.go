package sinks

// Validate checks a row against its table's rules, so a stage can dead-letter a bad row instead of letting
// it abort the whole table.
func Validate[T Row](r T) error { return r.validate() }
