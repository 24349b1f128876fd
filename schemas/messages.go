package schemas

import (
	"encoding/binary"
	"fmt"
)

// checkMessages walks the IPC messages of data before arrow-go reads them, and refuses one whose custom
// metadata declares more entries than its metadata has bytes: arrow-go makes a []string of the declared
// count before reading an entry, so a 1.3 KB message asked for 64 GB, and the Go runtime's out-of-memory
// is not a panic Decode can recover. Anything else malformed is left to arrow-go, which reports it.
func checkMessages(data []byte) error {
	le := binary.LittleEndian
	for off := 0; off+4 <= len(data); {
		n := int64(int32(le.Uint32(data[off:])))
		off += 4
		if n == -1 { // the continuation token, then the length
			if off+4 > len(data) {
				return nil
			}
			n = int64(int32(le.Uint32(data[off:])))
			off += 4
		}
		if n <= 0 || int64(off)+n > int64(len(data)) {
			return nil // the end of the stream, or a length arrow-go refuses itself
		}
		meta := data[off : off+int(n)]
		body, entries, ok := messageFields(meta)
		if !ok {
			return nil
		}
		if entries > int64(len(meta))/4 { // each entry is at least a 4-byte offset in the metadata
			return fmt.Errorf("corrupt message: custom metadata of %d entries in %d bytes of metadata", entries, len(meta))
		}
		if body < 0 || body > int64(len(data)) {
			return nil
		}
		off += int(n) + int(body)
	}
	return nil
}

// messageFields reads a Message flatbuffer's body length (field 3) and its custom metadata's entry
// count (field 4), ok false where the buffer is too broken to say.
func messageFields(meta []byte) (body, entries int64, ok bool) {
	le := binary.LittleEndian
	u32 := func(at int64) (int64, bool) {
		if at < 0 || at+4 > int64(len(meta)) {
			return 0, false
		}
		return int64(le.Uint32(meta[at:])), true
	}
	table, ok := u32(0)
	if !ok {
		return 0, 0, false
	}
	soff, ok := u32(table)
	if !ok {
		return 0, 0, false
	}
	vtable := table - int64(int32(soff))
	if vtable < 0 || vtable+4 > int64(len(meta)) {
		return 0, 0, false
	}
	vsize := int64(le.Uint16(meta[vtable:]))
	field := func(i int64) int64 { // the field's position, 0 when absent
		slot := vtable + 4 + 2*i
		if slot+2 > vtable+vsize || slot+2 > int64(len(meta)) {
			return 0
		}
		if o := int64(le.Uint16(meta[slot:])); o != 0 {
			return table + o
		}
		return 0
	}
	if at := field(3); at != 0 {
		if at+8 > int64(len(meta)) {
			return 0, 0, false
		}
		body = int64(le.Uint64(meta[at:]))
	}
	if at := field(4); at != 0 {
		rel, ok := u32(at)
		if !ok {
			return 0, 0, false
		}
		if entries, ok = u32(at + rel); !ok {
			return 0, 0, false
		}
	}
	return body, entries, true
}
