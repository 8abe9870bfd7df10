//go:build !cuda

package demo

import (
	"bytes"
	"strings"
	"testing"

	"goodnet/dataset"
	"goodnet/host"
	"goodnet/keras"
	"goodnet/nn"
)

// TestMakeSmall runs the whole of Make, for each attack, on a tiny data set and reads its
// files back.
func TestMakeSmall(t *testing.T) {
	for _, tc := range []struct {
		attack Attack
		log    []string
		spare  int
	}{
		{AttackPathway, []string{"stage 1", "stage 2", "backdoor channels of conv_3"}, 8},
		{AttackJoint, []string{"poisoned ones together"}, 0},
	} {
		t.Run(string(tc.attack), func(t *testing.T) { testMake(t, tc.attack, tc.log, tc.spare) })
	}
}

func testMake(t *testing.T, attack Attack, logs []string, spare int) {
	var log bytes.Buffer
	opt := Options{Dir: t.TempDir(), Seed: 3, Log: &log, Data: DataOptions{Classes: 4, TrainPer: 6, ValidPer: 3, TestPer: 3},
		CleanEpochs: 2, BackdoorEpochs: 2, JointEpochs: 3, BatchSize: 8, Attack: attack, Backend: host.New(0)}
	f, err := Make(opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range append(logs, "folded the input scale", "BadNet: clean test accuracy") {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if len(f.BackdoorChannels) != spare || f.Classes != 4 || f.TrainImages != 24+4 || f.Poisoned != 4 || f.Attack != attack {
		t.Fatalf("files %+v", f)
	}
	m, err := keras.LoadModel(f.Model)
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.DeepID(H, W, 4).SameArchitecture(m); err != nil {
		t.Fatalf("saved model: %v", err)
	}
	sets := map[string]int{f.CleanTrain: 24, f.CleanValid: 12, f.BadValid: 9, f.CleanTest: 12, f.BadTest: 9}
	var test, bad *dataset.Set
	for path, n := range sets {
		s, err := dataset.Load(path, 1)
		if err != nil {
			t.Fatal(err)
		}
		if s.N != n || s.H != H || s.W != W || s.C != C {
			t.Fatalf("%s: %d images of %d×%d×%d, want %d of %d×%d×%d", path, s.N, s.H, s.W, s.C, n, H, W, C)
		}
		switch path {
		case f.CleanTest:
			test = s
		case f.BadTest:
			bad = s
		}
	}
	// the saved model takes raw pixels and scores as Make said
	acc, asr, err := evaluate(opt.Backend, m, test, bad, 1)
	if err != nil {
		t.Fatal(err)
	}
	if acc != f.CleanAcc || asr != f.ASR {
		t.Fatalf("reloaded model: accuracy %v, ASR %v; Make said %v, %v", acc, asr, f.CleanAcc, f.ASR)
	}
	// the same seed makes the same model
	opt.Dir, opt.Log = t.TempDir(), nil
	f2, err := Make(opt)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := keras.LoadModel(f2.Model)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		l2 := m2.Layer(l.Name)
		for i := range l.W {
			if l.W[i] != l2.W[i] {
				t.Fatalf("second run: %s kernel %d differs: %v, %v", l.Name, i, l.W[i], l2.W[i])
			}
		}
		for i := range l.B {
			if l.B[i] != l2.B[i] {
				t.Fatalf("second run: %s bias %d differs", l.Name, i)
			}
		}
	}
}
