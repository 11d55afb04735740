package abi

import (
	"errors"
	"math"
	"strconv"
)

// Hand-written encoders for the outputs of adapter_metadata and
// adapter_build_command and for adapter errors, so that guests do not link
// encoding/json. Their output is byte for byte json.Marshal's, and so are
// their errors where json.Marshal fails (a NaN or infinite float, an invalid
// RawMessage): unlike the Stats encoders, these refuse such values rather
// than writing null. Adding a field to these types means adding it here;
// TestAppendJSONMetaCoversAllFields fails until that is done.

// AppendJSON appends the JSON encoding of m to b, or returns json.Marshal's
// error for m (b is then returned unchanged).
func (m *Metadata) AppendJSON(b []byte) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	orig := len(b)
	var err error
	b = appendStr(b, `{"name":`, m.Name, true)
	b = appendStr(b, `,"display_name":`, m.DisplayName, true)
	b = appendStr(b, `,"version":`, m.Version, true)
	b = appendInt(b, `,"abi_minor":`, int64(m.ABIMinor))
	b = appendStr(b, `,"homepage":`, m.Homepage, true)
	b = appendStr(b, `,"license":`, m.License, true)
	b = appendLit(b, `,"algorithms":`)
	if m.Algorithms == nil {
		b = appendLit(b, "null")
	} else {
		for i := range m.Algorithms {
			b = appendLit(b, sep(i))
			if b, err = m.Algorithms[i].appendJSON(b); err != nil {
				return b[:orig], err
			}
		}
		b = closeArray(b, len(m.Algorithms))
	}
	b = m.Release.appendJSON(b)
	b = appendStrings(b, `,"version_probe":{"args":`, m.VersionProbe.Args)
	b = appendStr(b, `,"regex":`, m.VersionProbe.Regex, true)
	b = appendStr(b, `},"api":{"kind":`, m.API.Kind, true)
	if len(m.API.Endpoints) > 0 {
		b = appendStrings(b, `,"endpoints":`, m.API.Endpoints)
	}
	if m.API.PollIntervalS != 0 {
		b = appendInt(b, `,"poll_interval_s":`, int64(m.API.PollIntervalS))
	}
	b = appendLit(b, `},"stdin_commands":`)
	if m.StdinCommands == nil {
		b = appendLit(b, "null")
	} else {
		for i, c := range m.StdinCommands {
			b = appendLit(b, sep(i))
			b = appendStr(b, `{"name":`, c.Name, true)
			b = appendStr(b, `,"input":`, c.Input, true)
			b = appendStr(b, `,"description":`, c.Description, true)
			b = appendLit(b, "}")
		}
		b = closeArray(b, len(m.StdinCommands))
	}
	b = appendLit(b, `,"options":`)
	if m.Options == nil {
		b = appendLit(b, "null")
	} else {
		for i := range m.Options {
			b = appendLit(b, sep(i))
			if b, err = m.Options[i].appendJSON(b); err != nil {
				return b[:orig], err
			}
		}
		b = closeArray(b, len(m.Options))
	}
	b = appendStrings(b, `,"capabilities":`, m.Capabilities)
	return appendLit(b, "}"), nil
}

// sep is what comes before element i of an array: '[' or ','.
func sep(i int) string {
	if i == 0 {
		return "["
	}
	return ","
}

// closeArray closes an array of n elements opened with sep (writing "[]"
// for none).
//
//go:noinline
func closeArray(b []byte, n int) []byte {
	if n == 0 {
		b = append(b, '[')
	}
	return append(b, ']')
}

func (a *Algorithm) appendJSON(b []byte) ([]byte, error) {
	b = appendStr(b, `{"name":`, a.Name, true)
	b = appendStrings(b, `,"devices":`, a.Devices)
	if len(a.Coins) > 0 {
		b = appendStrings(b, `,"coins":`, a.Coins)
	}
	if a.ShareFactor != 0 {
		if math.IsNaN(a.ShareFactor) || math.IsInf(a.ShareFactor, 0) {
			return b, errors.New("json: unsupported value: " + strconv.FormatFloat(a.ShareFactor, 'g', -1, 64))
		}
		b = appendFloat(b, `,"share_factor":`, a.ShareFactor)
	}
	if a.DAG {
		b = appendLit(b, `,"dag":true`)
	}
	return appendLit(b, "}"), nil
}

func (r *Release) appendJSON(b []byte) []byte {
	b = appendStr(b, `,"release":{"github":`, r.GitHub, true)
	b = appendStr(b, `,"tag_prefix":`, r.TagPrefix, true)
	b = appendLit(b, `,"assets":`)
	if r.Assets == nil {
		b = appendLit(b, "null")
	} else {
		for i := range r.Assets {
			a := &r.Assets[i]
			b = appendLit(b, sep(i))
			b = appendStr(b, `{"os":`, a.OS, true)
			b = appendStr(b, `,"arch":`, a.Arch, true)
			b = appendStr(b, `,"name":`, a.Name, true)
			b = appendStr(b, `,"archive":`, a.Archive, true)
			b = appendStr(b, `,"binary":`, a.Binary, true)
			if a.MinVersion != "" {
				b = appendStr(b, `,"min_version":`, a.MinVersion, true)
			}
			if a.BeforeVersion != "" {
				b = appendStr(b, `,"before_version":`, a.BeforeVersion, true)
			}
			b = appendLit(b, "}")
		}
		b = closeArray(b, len(r.Assets))
	}
	b = appendLit(b, `,"checksum":{`)
	if r.Checksum.File != "" {
		b = appendStr(b, `"file":`, r.Checksum.File, true)
		b = appendLit(b, ",")
	}
	b = appendStr(b, `"format":`, r.Checksum.Format, true)
	return appendLit(b, "}}")
}

func (o *Option) appendJSON(b []byte) ([]byte, error) {
	b = appendStr(b, `{"name":`, o.Name, true)
	b = appendStr(b, `,"type":`, o.Type, true)
	if len(o.Values) > 0 {
		b = appendStrings(b, `,"values":`, o.Values)
	}
	if len(o.Default) > 0 {
		b = appendLit(b, `,"default":`)
		var err error
		if b, err = appendCompact(b, o.Default); err != nil {
			return b, errors.New("json: error calling MarshalJSON for type json.RawMessage: " + err.Error())
		}
	}
	b = appendStr(b, `,"description":`, o.Description, true)
	return appendLit(b, "}"), nil
}

// appendCompact appends the JSON value raw as json.Marshal writes a
// RawMessage: checked, without insignificant whitespace, with <, >, &,
// U+2028 and U+2029 escaped. Invalid JSON is the Decoder's syntax error.
func appendCompact(b, raw []byte) ([]byte, error) {
	var d Decoder
	d.Reset(raw)
	d.Skip()
	if err := d.Finish(); err != nil {
		return b, err
	}
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			continue
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8:
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xF])
			i += 2
			continue
		case inString:
			if c == '\\' {
				b = append(b, c, raw[i+1])
				i++
				continue
			}
			inString = c != '"'
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c == '"':
			inString = true
		}
		b = append(b, c)
	}
	return b, nil
}

// appendStrings appends key and a []string as json.Marshal does (nil as
// null).
//
//go:noinline
func appendStrings(b []byte, key string, s []string) []byte {
	b = append(b, key...)
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}

// appendStringMap appends key and a map[string]string as json.Marshal does:
// keys sorted, nil as null.
func appendStringMap(b []byte, key string, m map[string]string) []byte {
	b = append(b, key...)
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Insertion sort: these maps are an adapter's few environment
	// variables and headers (package sort would add its code to guests).
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	for i, k := range keys {
		sep := ","
		if i == 0 {
			sep = "{"
		}
		b = appendStr(b, sep, k, true)
		b = appendStr(b, ":", m[k], true)
	}
	if len(keys) == 0 {
		b = append(b, '{')
	}
	return append(b, '}')
}

// AppendJSON appends the JSON encoding of c to b.
func (c *Command) AppendJSON(b []byte) []byte {
	if c == nil {
		return append(b, "null"...)
	}
	b = appendStrings(b, `{"args":`, c.Args)
	if len(c.Env) > 0 {
		b = appendStringMap(b, `,"env":`, c.Env)
	}
	if len(c.Files) > 0 {
		b = appendLit(b, `,"files":`)
		for i := range c.Files {
			f := &c.Files[i]
			b = appendLit(b, sep(i))
			b = appendStr(b, `{"path":`, f.Path, true)
			b = appendStr(b, `,"content":`, f.Content, true)
			if f.Mode != 0 {
				b = appendInt(b, `,"mode":`, int64(f.Mode))
			}
			b = appendLit(b, "}")
		}
		b = appendLit(b, "]")
	}
	if len(c.API) > 0 {
		b = appendLit(b, `,"api":`)
		for i := range c.API {
			e := &c.API[i]
			b = appendLit(b, sep(i))
			b = appendStr(b, `{"name":`, e.Name, true)
			b = appendStr(b, `,"kind":`, e.Kind, true)
			if e.URL != "" {
				b = appendStr(b, `,"url":`, e.URL, true)
			}
			if len(e.Headers) > 0 {
				b = appendStringMap(b, `,"headers":`, e.Headers)
			}
			if e.Address != "" {
				b = appendStr(b, `,"address":`, e.Address, true)
			}
			if e.Request != "" {
				b = appendStr(b, `,"request":`, e.Request, true)
			}
			b = appendLit(b, "}")
		}
		b = appendLit(b, "]")
	}
	return appendLit(b, "}")
}

// AppendJSON appends the JSON encoding of e to b.
func (e *Error) AppendJSON(b []byte) []byte {
	if e == nil {
		return append(b, "null"...)
	}
	b = appendStr(b, `{"code":`, e.Code, true)
	b = appendStr(b, `,"message":`, e.Message, true)
	if e.Retryable {
		return append(b, `,"retryable":true}`...)
	}
	return append(b, `,"retryable":false}`...)
}
