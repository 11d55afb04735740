package proc

import (
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pacer spaces a reader's reads of a trickle by a timerfd waited for in
// the netpoller. A tick then wakes the one thread blocked in the netpoller
// and nothing else: a Go timer also wakes the runtime's monitor thread,
// which sleeps until the next timer while every processor is idle, and a
// Go ticker's channel send readies the reader from the timer code. The
// timer is armed and read with raw system calls (an announced one wakes
// the monitor too). It is disarmed while the reader waits for a dry pipe,
// so a quiet miner costs no ticks.
//
// Where no timerfd can be had (a descriptor limit), the reader sleeps.
type pacer struct {
	every   time.Duration
	f       *os.File // the timerfd, registered with the netpoller
	rc      syscall.RawConn
	running bool // armed
	failed  bool // no timerfd: sleep instead
}

// wait waits for the next tick, arming the timer if it is disarmed (the
// first wait after a pause is then a whole period).
func (p *pacer) wait() {
	if p.f == nil && !p.failed {
		p.failed = p.open() != nil
	}
	if !p.failed && !p.running {
		p.failed = p.arm(p.every) != nil
		p.running = !p.failed
	}
	if p.failed {
		time.Sleep(p.every)
		return
	}
	var n [8]byte // the count of expirations
	err := p.rc.Read(func(fd uintptr) bool {
		_, err := rawRead(int(fd), n[:])
		return err != unix.EAGAIN
	})
	if err != nil { // not pollable after all: never spin on it
		p.failed = true
		time.Sleep(p.every)
	}
}

func (p *pacer) open() error {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return err
	}
	p.f = os.NewFile(uintptr(fd), "timerfd") // non-blocking: in the netpoller
	p.rc, err = p.f.SyscallConn()
	return err
}

// arm makes the timer tick every d from now; 0 disarms it.
func (p *pacer) arm(d time.Duration) error {
	ts := unix.NsecToTimespec(int64(d))
	its := unix.ItimerSpec{Interval: ts, Value: ts}
	var err error
	if cerr := p.rc.Control(func(fd uintptr) {
		_, _, errno := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&its)), 0, 0, 0)
		if errno != 0 {
			err = errno
		}
	}); cerr != nil {
		return cerr
	}
	return err
}

// pause disarms the timer.
func (p *pacer) pause() {
	if p.running {
		_ = p.arm(0)
		p.running = false
	}
}

// close releases the timer.
func (p *pacer) close() {
	if p.f != nil {
		_ = p.f.Close()
		p.f, p.running = nil, false
	}
}
