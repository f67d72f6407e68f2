package arch

import (
	"strings"
	"testing"

	"github.com/rwkv-chat/rwkv-chat/internal/tensor"
)

func names(shapes map[string][]int) []*tensor.Tensor {
	var ts []*tensor.Tensor
	for n, s := range shapes {
		ts = append(ts, &tensor.Tensor{Name: n, Shape: s})
	}
	return ts
}

func TestDetect(t *testing.T) {
	cases := []struct {
		shapes map[string][]int
		want   string
	}{
		{map[string][]int{"blocks.0.att.time_decay": {64}, "blocks.0.att.time_first": {64}}, "4"},
		{map[string][]int{"blocks.0.att.time_decay": {8}, "blocks.0.att.ln_x.weight": {64}}, "5.0"},
		{map[string][]int{"blocks.0.att.time_decay": {8}, "blocks.0.att.ln_x.weight": {64}, "blocks.0.att.gate.weight": {64, 64}, "blocks.0.att.time_first": {8}}, "5.1"},
		{map[string][]int{"blocks.0.att.time_decay": {8, 8}, "blocks.0.att.ln_x.weight": {64}, "blocks.0.att.gate.weight": {64, 64}}, "5.2"},
		{map[string][]int{"blocks.0.att.time_decay": {8, 8, 1}, "blocks.0.att.ln_x.weight": {64}, "blocks.0.att.gate.weight": {64, 64}}, "5.2"},
		{map[string][]int{"blocks.0.att.time_maa_x": {64}, "blocks.0.att.ln_x.weight": {64}}, "6.0"},
		{map[string][]int{"blocks.0.att.r_k": {1, 64}, "blocks.0.att.ln_x.weight": {64}}, "7.0"},
		{map[string][]int{"blocks.0.att.x_rwkvag": {6, 1, 64}}, "7.0"},
	}
	for _, c := range cases {
		if got, err := Detect(names(c.shapes)); err != nil || got != c.want {
			t.Errorf("%v: got %q %v, want %q", c.shapes, got, err, c.want)
		}
	}
	for _, bad := range []string{"blocks.0.ffn.s_emb.weight", "blocks.0.qkv.weight", "blocks.0.ffnPre.key.weight", "_strategy", "emb.weight"} {
		if _, err := Detect(names(map[string][]int{bad: {1}})); err == nil || !strings.Contains(err.Error(), "") {
			t.Errorf("%s accepted", bad)
		}
	}
}
