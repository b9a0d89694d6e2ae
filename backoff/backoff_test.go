package backoff

import (
	"testing"
	"time"
)

func TestDoubling(t *testing.T) {
	b := Doubling(time.Second, 30*time.Second)
	want := []time.Duration{1, 1, 2, 4, 8, 16, 30, 30, 30}
	for failures, w := range want {
		if got := b.Delay(failures); got != w*time.Second {
			t.Errorf("Delay(%d) = %s, want %s", failures, got, w*time.Second)
		}
	}
	if got := Doubling(time.Second, time.Second).Delay(5); got != time.Second {
		t.Errorf("Doubling to its first: %s", got)
	}
}

func TestStepsAndJitter(t *testing.T) {
	b := Backoff{Steps: []time.Duration{5 * time.Second, time.Hour}, Jitter: 0.2}
	for range 1000 {
		if d := b.Delay(1); d < 4*time.Second || d > 6*time.Second {
			t.Fatalf("Delay(1) = %s, want 5 s ±20 %%", d)
		}
		if d := b.Delay(7); d < 48*time.Minute || d > 72*time.Minute {
			t.Fatalf("Delay(7) = %s, want 1 h ±20 %%", d)
		}
	}
	if d := (Backoff{}).Delay(3); d != 0 {
		t.Errorf("the zero Backoff waits %s", d)
	}
}
