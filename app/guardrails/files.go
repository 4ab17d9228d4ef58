package guardrails

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmgw/gateway/app/schema"
)

// fileInfo is what a file_types rule can know about a part without fetching
// or decoding it: the declared (or sniffed) MIME type, the extension of its
// name or URL, and the decoded size (-1 when unknown, as for URLs).
type fileInfo struct {
	mime, ext string
	size      int64
	binary    bool // mime was sniffed from executable magic bytes: the name proves nothing
}

func (f fileInfo) label() string {
	switch {
	case f.mime != "":
		return f.mime
	case f.ext != "":
		return f.ext
	}
	return "unknown"
}

// extMIME maps common extensions to MIME types so that either form in an
// allowlist matches either form in a request.
var extMIME = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".heic": "image/heic", ".heif": "image/heif", ".bmp": "image/bmp", ".svg": "image/svg+xml", ".tif": "image/tiff",
	".tiff": "image/tiff", ".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown", ".csv": "text/csv",
	".html": "text/html", ".htm": "text/html", ".json": "application/json", ".xml": "application/xml",
	".doc": "application/msword", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xls": "application/vnd.ms-excel", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".ppt": "application/vnd.ms-powerpoint", ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".zip": "application/zip", ".exe": "application/x-msdownload", ".dll": "application/x-msdownload",
	".sh": "application/x-sh", ".js": "text/javascript", ".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
	".flac": "audio/flac", ".m4a": "audio/mp4", ".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime",
}

// file checks a non-text part against the file_types rules and reports
// whether the request is blocked.
func (sc *scanner) file(p *schema.ContentPart, msg int) bool {
	info, ok := partFile(p)
	if !ok {
		return false
	}
	for _, ri := range sc.e.fileRules {
		r := &sc.e.rules[ri]
		if len(r.allowed) > 0 && (info.mime != "" || info.ext != "") && !typeAllowed(r.allowed, info) {
			if sc.record(r, entName[entMIME], info.label(), msg) {
				return true
			}
		}
		if r.MaxFileSizeBytes > 0 && info.size > r.MaxFileSizeBytes {
			m := fmt.Sprintf("%s of %d bytes (max %d)", info.label(), info.size, r.MaxFileSizeBytes)
			if sc.record(r, entName[entSize], m, msg) {
				return true
			}
		}
	}
	return false
}

// partFile describes image_url, file and input_audio parts. An https URL
// without a known extension has an unknown type and size and passes: its
// content is only known once the provider fetches it.
func partFile(p *schema.ContentPart) (fileInfo, bool) {
	switch p.Type {
	case "image_url":
		if p.ImageURL == nil || p.ImageURL.URL == "" {
			return fileInfo{}, false
		}
		u := p.ImageURL.URL
		if hasPrefixFold(u, "data:") {
			return dataURI(u[5:]), true
		}
		ext := extOf(u)
		return fileInfo{mime: extMIME[ext], ext: ext, size: -1}, true
	case "file":
		name, _ := rawStringField(p.File, "filename")
		ext := extOf(string(name))
		data, ok := rawStringField(p.File, "file_data")
		if !ok {
			return fileInfo{mime: extMIME[ext], ext: ext, size: -1}, ext != ""
		}
		if hasPrefixFold(string(data[:min(len(data), 5)]), "data:") {
			f := dataURIBytes(data[5:])
			f.ext = ext
			return f, true
		}
		bin := sniffExecutable(data[:min(len(data), 16)])
		return fileInfo{mime: sniffOr(data, extMIME[ext]), ext: ext, size: base64Size(data), binary: bin != ""}, true
	case "input_audio":
		format, _ := rawStringField(p.InputAudio, "format")
		data, ok := rawStringField(p.InputAudio, "data")
		mime := "audio/" + strings.ToLower(string(format))
		if string(format) == "mp3" {
			mime = "audio/mpeg"
		}
		if !ok {
			data = nil
		}
		return fileInfo{mime: mime, ext: "." + strings.ToLower(string(format)), size: base64Size(data)}, true
	}
	return fileInfo{}, false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// dataURI parses "mediatype[;params][;base64],data" (after "data:").
func dataURI(u string) fileInfo {
	comma := strings.IndexByte(u[:min(len(u), 512)], ',')
	if comma < 0 {
		return fileInfo{size: -1}
	}
	return dataInfo(strings.ToLower(u[:comma]), u[comma+1:])
}

// dataURIBytes is dataURI over the raw bytes of a JSON string, whose header
// may escape '/' as "\/".
func dataURIBytes(b []byte) fileInfo {
	comma := bytes.IndexByte(b[:min(len(b), 512)], ',')
	if comma < 0 {
		return fileInfo{size: -1}
	}
	return dataInfo(strings.ToLower(strings.ReplaceAll(string(b[:comma]), `\/`, "/")), b[comma+1:])
}

// dataInfo describes a data URI payload without copying it.
func dataInfo[T string | []byte](meta string, data T) fileInfo {
	mime, _, _ := strings.Cut(meta, ";")
	if mime == "" {
		mime = "text/plain"
	}
	if !strings.HasSuffix(meta, ";base64") {
		return fileInfo{mime: mime, size: int64(len(data))}
	}
	head := []byte(data[:min(len(data), 16)])
	bin := sniffExecutable(head)
	return fileInfo{mime: sniffOr(head, mime), size: base64Size(data), binary: bin != ""}
}

// base64Size is the decoded size of base64 text, ignoring padding.
func base64Size[T string | []byte](b T) int64 {
	n := len(b)
	for n > 0 && b[n-1] == '=' {
		n--
	}
	return int64(n) * 3 / 4
}

// sniffOr returns the executable type the payload's magic bytes reveal, or
// declared: a client may label a Windows or Linux binary "application/pdf".
func sniffOr(b64 []byte, declared string) string {
	if m := sniffExecutable(b64); m != "" {
		return m
	}
	return declared
}

func sniffExecutable(b64 []byte) string {
	var head [12]byte
	n, _ := base64.StdEncoding.Decode(head[:], b64[:min(len(b64), 16)])
	h := head[:n]
	switch {
	case bytes.HasPrefix(h, []byte("MZ")):
		return "application/x-msdownload"
	case bytes.HasPrefix(h, []byte("\x7fELF")):
		return "application/x-elf"
	case bytes.HasPrefix(h, []byte("\xcf\xfa\xed\xfe")), bytes.HasPrefix(h, []byte("\xfe\xed\xfa\xcf")):
		return "application/x-mach-binary"
	}
	return ""
}

// extOf returns the lowercase extension of a URL's path or a file name.
func extOf(u string) string {
	if k := strings.IndexAny(u, "?#"); k >= 0 {
		u = u[:k]
	}
	u = u[strings.LastIndexByte(u, '/')+1:]
	k := strings.LastIndexByte(u, '.')
	if k < 0 || len(u)-k > 9 || !isToken(u[k+1:], "") {
		return ""
	}
	return strings.ToLower(u[k:])
}

func typeAllowed(allowed []string, f fileInfo) bool {
	byExt := extMIME[f.ext]
	if f.binary {
		f.ext, byExt = "", ""
	}
	for _, a := range allowed {
		switch {
		case a[0] == '.':
			if f.ext == a || f.mime != "" && extMIME[a] == f.mime {
				return true
			}
		case strings.HasSuffix(a, "/*"):
			major := a[:len(a)-1]
			if strings.HasPrefix(f.mime, major) || f.mime == "" && strings.HasPrefix(byExt, major) {
				return true
			}
		default:
			if f.mime == a || f.mime == "" && byExt == a {
				return true
			}
		}
	}
	return false
}

// rawStringField returns the raw bytes of the string value of key in a JSON
// object without decoding it: file payloads can be megabytes, and only
// their header and length matter here.
func rawStringField(obj json.RawMessage, key string) ([]byte, bool) {
	needle := `"` + key + `"`
	for off := 0; off < len(obj); {
		k := bytes.Index(obj[off:], []byte(needle))
		if k < 0 {
			return nil, false
		}
		i := off + k + len(needle)
		off = i
		for i < len(obj) && isSpaceByte(obj[i]) {
			i++
		}
		if i >= len(obj) || obj[i] != ':' {
			continue // the needle was a value, not a key
		}
		for i++; i < len(obj) && isSpaceByte(obj[i]); i++ {
		}
		if i >= len(obj) || obj[i] != '"' {
			return nil, false
		}
		start := i + 1
		for j := start; j < len(obj); j++ {
			switch obj[j] {
			case '\\':
				j++
			case '"':
				return obj[start:j], true
			}
		}
		return nil, false
	}
	return nil, false
}
