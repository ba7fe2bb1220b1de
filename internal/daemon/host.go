package daemon

import "os"

func hostName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "crdtd"
	}
	return h
}
