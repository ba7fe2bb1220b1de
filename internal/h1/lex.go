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

// isToken reports whether s is a token: a method, a header field's name.
// It takes the bytes of a request as read, or a string.
func isToken[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

// validFieldValue reports whether v holds no control character but
// horizontal tab (RFC 9110, 5.5).
func validFieldValue[T string | []byte](v T) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

// isOWS reports whether b is optional white space (RFC 9110, 5.6.3): a
// space or a horizontal tab.
func isOWS(b byte) bool { return b == ' ' || b == '\t' }

// trimOWS cuts optional white space from both ends of s.
func trimOWS[T string | []byte](s T) T {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
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
// comma-separated list, ignoring ASCII case, as net/http reads the
// Connection header: "Connection: cloſe" closes nothing.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			if equalFoldASCII(trimOWS(f), token) {
				return true
			}
		}
	}
	return false
}

// equalFoldASCII reports whether a and b are equal but for the case of
// ASCII letters. Tokens are ASCII: strings.EqualFold would also match
// letters that fold to ASCII ones, such as the Kelvin sign to "k".
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

// lowerASCII returns b in lower case if it is an ASCII letter.
func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
