package h1

import "strings"

// isTokenByte reports whether b may appear in a token (RFC 9110, 5.6.2):
// a header field's name, a method.
func isTokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// validFieldName reports whether name is a token.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return false
		}
	}
	return true
}

// validFieldValue reports whether v holds no control character but
// horizontal tab (RFC 9110, 5.5).
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

// validHost reports whether a Host header holds only the bytes of a host
// name, an IP literal and a port (RFC 3986, 3.2.2): no space, slash or
// control character.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		b := h[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("-._~:[]!$&'()*+,;=%", b) >= 0:
		default:
			return false
		}
	}
	return true
}

// hasToken reports whether any of a header's values lists token, in a
// comma-separated list, ignoring case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}
