package h1

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// newSocketIO returns what a connection reads its requests from and
// writes its answers to: for a TCP or Unix socket, its own socketIO;
// otherwise (TLS) c itself.
func newSocketIO(c net.Conn) io.ReadWriter {
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return c
	}
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return c
	}
	return &socketIO{rc: rc, calls: defaultCalls}
}

// socketIO reads and writes a socket with raw system calls, which the Go
// scheduler is not told about, waiting in the runtime's poller when the
// socket is not ready, as net.Conn does. A net.Conn's Read and Write tell
// the scheduler of each call (entersyscall, exitsyscall), and a call that
// takes over 20 µs (one whose thread the kernel preempted, typically to
// run the client its answer just woke) has its P handed to another
// thread by the runtime's monitor, which then keeps waking every 20 µs:
// on a node under load that monitor's sleeps alone were a third of its
// context switches (perf record -e sched:sched_switch). The sockets Go makes are non-blocking, so a raw
// call cannot block: it does what there is to do and returns EAGAIN
// otherwise. Deadlines and Close work as for the net.Conn: the waits are
// the poller's, on the same descriptor.
type socketIO struct {
	rc    syscall.RawConn
	calls socketCalls
}

// socketCalls are the system calls a socketIO makes: one read, one send.
// Each returns what the call returned and its errno.
type socketCalls struct {
	read func(fd uintptr, p []byte) (uintptr, syscall.Errno)
	send func(fd uintptr, p []byte) (uintptr, syscall.Errno)
}

// rawCalls make raw system calls. A send has MSG_NOSIGNAL: a peer gone
// is an error (EPIPE), not a signal.
var rawCalls = socketCalls{
	read: func(fd uintptr, p []byte) (uintptr, syscall.Errno) {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		return n, errno
	},
	send: func(fd uintptr, p []byte) (uintptr, syscall.Errno) {
		n, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
			syscall.MSG_NOSIGNAL, 0, 0)
		return n, errno
	},
}

// toldCalls are syscall.Read and syscall.Write, which the scheduler is
// told of, and the race detector too: they order what a goroutine did
// before writing to a socket before what another does after reading
// from one, as they do for net.Conn. Raw calls would hide that order,
// and the race detector would report races that are not there.
var toldCalls = socketCalls{
	read: func(fd uintptr, p []byte) (uintptr, syscall.Errno) {
		n, err := syscall.Read(int(fd), p)
		return uintptr(max(n, 0)), errnoOf(err)
	},
	send: func(fd uintptr, p []byte) (uintptr, syscall.Errno) {
		n, err := syscall.Write(int(fd), p)
		return uintptr(max(n, 0)), errnoOf(err)
	},
}

// defaultCalls are raw calls, but for a build with the race detector.
var defaultCalls = func() socketCalls {
	if raceEnabled {
		return toldCalls
	}
	return rawCalls
}()

// errnoOf returns err's errno, 0 for nil.
func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	return err.(syscall.Errno)
}

// Read reads what the socket holds, up to len(p) bytes, waiting until it
// holds some; io.EOF once the peer has closed its side.
func (s *socketIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n uintptr
	var errno syscall.Errno
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			n, errno = s.calls.read(fd, p)
			switch errno {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until readable
			}
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	return int(n), nil
}

// Write writes all of p, waiting whenever the socket's buffer is full.
func (s *socketIO) Write(p []byte) (int, error) {
	written := 0
	var failed error // the send's own error
	err := s.rc.Write(func(fd uintptr) bool {
		for written < len(p) {
			n, e := s.calls.send(fd, p[written:])
			switch {
			case e == syscall.EINTR:
			case e == syscall.EAGAIN:
				return false // wait until writable
			case e != 0:
				failed = e
				return true
			case n == 0:
				failed = io.ErrShortWrite // a stream socket sends a byte or fails
				return true
			default:
				written += int(n)
			}
		}
		return true
	})
	if err == nil {
		err = failed
	}
	return written, err
}
