//go:build amd64 && !purego

package kernels

// avx512Impl is the avx2 set with the kernels that gain from AVX-512
// replaced: 512-bit FMAs for the float MatMul (a full-width core such as
// Zen 5 doubles its FMA rate) and VNNI (VPDPBUSD: u8·s8 summed in int32 in
// one instruction, without the int16 saturation of VPMADDUBSW) for the
// integer products. Everything else is the avx2 code.
func avx512Impl() *Impl {
	im := avx2Impl()
	im.Name = "avx512"
	im.Why = "CPU has AVX-512 (F, BW, VL) and VNNI"
	im.MatVecQ = matVecQAVX512
	return im
}
