//go:build amd64 && !purego

// AVX2 + FMA + F16C kernels for the k-quant weight types (Q4_K, Q5_K,
// Q6_K; block layouts in internal/tensor/kquant.go): the matrix-vector
// product with float32 activations, and a row dequantizer for the float
// matrix-matrix product. The Go drivers are in kquant_asm.go; the
// generic twins are quantRowDot and tensor.DequantizeK.
//
// Register use: AX BX CX DX SI DI R8-R13 only (R14 is g, R15 is left
// alone for dynamic linking, BP is the frame pointer). The kernels keep
// per-block scales and widened codes in their own stack frame.

#include "textflag.h"

// KSETUP loads the matrix-vector arguments: SI, R9, R10, R11 the four rows
// (w + k·stride), DI x, CX the number of super-blocks, R8 the
// sub-block sums of x (Q4_K, Q5_K), and zeroes the accumulators Y0..Y3.
#define KSETUP \
	MOVQ w+0(FP), SI; \
	MOVQ stride+8(FP), BX; \
	MOVQ x+16(FP), DI; \
	MOVQ nb+24(FP), CX; \
	LEAQ (SI)(BX*1), R9; \
	LEAQ (R9)(BX*1), R10; \
	LEAQ (R10)(BX*1), R11; \
	MOVQ xs+40(FP), R8; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3

// KHSUM4 reduces A, B, C, D (clobbered) to [ΣA, ΣB, ΣC, ΣD] in XA.
#define KHSUM4(A, B, C, D, XA, T) \
	VHADDPS B, A, A; \
	VHADDPS D, C, C; \
	VHADDPS C, A, A; \
	VEXTRACTF128 $1, A, T; \
	VADDPS T, XA, XA

// KFINISH stores the four row sums to y[0..3].
#define KFINISH \
	MOVQ y+32(FP), DX; \
	KHSUM4(Y0, Y1, Y2, Y3, X0, X4); \
	VMOVUPS X0, (DX); \
	VZEROUPPER

// KPREFETCH(OFF) prefetches the cache line at OFF in the next group's
// rows (four strides on).
#define KPREFETCH(OFF) \
	PREFETCHT0 OFF(SI)(BX*4); \
	PREFETCHT0 OFF(R9)(BX*4); \
	PREFETCHT0 OFF(R10)(BX*4); \
	PREFETCHT0 OFF(R11)(BX*4)

#define KADVANCE(BYTES) \
	ADDQ $BYTES, SI; \
	ADDQ $BYTES, R9; \
	ADDQ $BYTES, R10; \
	ADDQ $BYTES, R11; \
	ADDQ $32, R8; \
	ADDQ $1024, DI

// ---- Q4_K and Q5_K: half d; half dmin; u8 scales[12]; (Q5_K: u8
// qh[32];) u8 qs[128]. Element 64j+l (l < 32) is the low nibble of
// qs[32j+l], element 64j+32+l its high nibble (plus 16 for bit 2j or
// 2j+1 of qh[l] in Q5_K); sub-block s (32 elements) has the 6-bit scale
// sc_s and min m_s, and element e of it is d·sc_s·q − dmin·m_s. Per row
// and super-block: Σ_e w_e·x_e = Σ_s (d·sc_s)·Σ q·x − Σ_s (dmin·m_s)·X_s,
// X_s = Σ x over sub-block s. The X_s are summed once per product
// (kxsums); the min term goes straight into the row's accumulator
// (its lanes are any partial sums), and the eight d·sc_s go to the stack,
// to be broadcast to each sub-block's dot product.

// KXSUM sets Y15 to the eight sub-block sums X_s of the super-block of x
// at DI (lane s), using Y4..Y14.
#define KXS(O, V) \
	VMOVUPS O(DI), V; \
	VADDPS O+32(DI), V, V; \
	VMOVUPS O+64(DI), Y4; \
	VADDPS O+96(DI), Y4, Y4; \
	VADDPS Y4, V, V

#define KXSUM \
	KXS(0, Y8); \
	KXS(128, Y9); \
	KXS(256, Y10); \
	KXS(384, Y11); \
	KXS(512, Y12); \
	KXS(640, Y13); \
	KXS(768, Y14); \
	KXS(896, Y15); \
	KHSUM4(Y8, Y9, Y10, Y11, X8, X4); \
	KHSUM4(Y12, Y13, Y14, Y15, X12, X5); \
	VINSERTF128 $1, X12, Y8, Y15

// KSCALES(R) unpacks the block header at R: Y6 = the eight d·sc_s, Y7 =
// the eight dmin·m_s (lane s). With u0, u1, u2 the dwords of the 12
// scale bytes: sc_0..3 = u0 & 63, m_0..3 = u1 & 63, sc_4..7 = (u2 & 15) |
// (u0 >> 6) << 4, m_4..7 = (u2 >> 4) | (u1 >> 6) << 4, bytewise; the
// bytes are gathered in general registers (AX, DX, R12, R13), which the
// vector units would otherwise spend a dozen operations on.
#define KSCALES(R) \
	MOVL 4(R), AX; \
	MOVL 12(R), R12; \
	MOVL AX, R13; \
	SHRL $2, R13; \
	ANDL $0x30303030, R13; \
	MOVL R12, DX; \
	ANDL $0x0f0f0f0f, DX; \
	ORL  DX, R13; \
	SHLQ $32, R13; \
	ANDL $0x3f3f3f3f, AX; \
	ORQ  R13, AX; \
	MOVQ AX, X6; \
	MOVL 8(R), AX; \
	MOVL AX, R13; \
	SHRL $2, R13; \
	ANDL $0x30303030, R13; \
	SHRL $4, R12; \
	ANDL $0x0f0f0f0f, R12; \
	ORL  R12, R13; \
	SHLQ $32, R13; \
	ANDL $0x3f3f3f3f, AX; \
	ORQ  R13, AX; \
	MOVQ AX, X7; \
	VPMOVZXBD X6, Y6; \
	VPMOVZXBD X7, Y7; \
	VCVTDQ2PS Y6, Y6; \
	VCVTDQ2PS Y7, Y7; \
	VPBROADCASTW (R), X8; \
	VCVTPH2PS X8, Y8; \
	VMULPS Y8, Y6, Y6; \
	VPBROADCASTW 2(R), X9; \
	VCVTPH2PS X9, Y9; \
	VMULPS Y9, Y7, Y7

// KSC(R, ACC, OFF): the row's scales to OFF(SP), its min term into ACC.
#define KSC(R, ACC, OFF) \
	KSCALES(R); \
	VFNMADD231PS Y15, Y7, ACC; \
	VMOVUPS Y6, OFF(SP)

// KLOADX(O): Y8..Y11 = x[O/4 .. +32), Y12..Y15 = the next 32 (the two
// sub-blocks of one 64-element chunk).
#define KLOADX(O) \
	VMOVUPS O(DI), Y8; \
	VMOVUPS O+32(DI), Y9; \
	VMOVUPS O+64(DI), Y10; \
	VMOVUPS O+96(DI), Y11; \
	VMOVUPS O+128(DI), Y12; \
	VMOVUPS O+160(DI), Y13; \
	VMOVUPS O+192(DI), Y14; \
	VMOVUPS O+224(DI), Y15

// KSCALE2(ACC, S): ACC += d·sc·(Y6) + d·sc'·(Y7), the scales at S(SP)
// and S+4(SP).
#define KSCALE2(ACC, S) \
	VBROADCASTSS S(SP), Y4; \
	VFMADD231PS Y4, Y6, ACC; \
	VBROADCASTSS S+4(SP), Y5; \
	VFMADD231PS Y5, Y7, ACC

// Q4KG(R, QO, XA, XB): eight bytes of qs at QO(R) widened to int32, their
// low nibbles dotted with XA into Y6, high nibbles with XB into Y7.
#define Q4KG(R, QO, XA, XB) \
	VPMOVZXBD QO(R), Y4; \
	VPSRLD $4, Y4, Y5; \
	VPAND k0f<>(SB), Y4, Y4; \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VFMADD231PS XA, Y4, Y6; \
	VFMADD231PS XB, Y5, Y7

// Q4KC(R, QO, ACC, S): one 64-element chunk of a Q4_K row (32 bytes of qs
// at QO(R)) against x in Y8..Y15; scales at S(SP), S+4(SP).
#define Q4KC(R, QO, ACC, S) \
	VPMOVZXBD QO(R), Y4; \
	VPSRLD $4, Y4, Y5; \
	VPAND k0f<>(SB), Y4, Y4; \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VMULPS Y8, Y4, Y6; \
	VMULPS Y12, Y5, Y7; \
	Q4KG(R, QO+8, Y9, Y13); \
	Q4KG(R, QO+16, Y10, Y14); \
	Q4KG(R, QO+24, Y11, Y15); \
	KSCALE2(ACC, S)

#define Q4KCHUNK(J) \
	KLOADX(256*J); \
	Q4KC(SI, 16+32*J, Y0, 8*J); \
	Q4KC(R9, 16+32*J, Y1, 32+8*J); \
	Q4KC(R10, 16+32*J, Y2, 64+8*J); \
	Q4KC(R11, 16+32*J, Y3, 96+8*J)

// Q5_K: the codes of a chunk are built bytewise (32 at a time) and stored
// to the stack, then widened from there: lo = (qs & 15) | bit 2j of qh
// << 4, hi = (qs >> 4) | bit 2j+1 of qh << 4. VPSLLW/VPSRLW shift words,
// but the mask afterwards keeps only bit 4 of each byte, which came from
// the same byte.

// Q5KW(B, XA, XB): the eight codes at B(SP) and B+32(SP) widened and
// dotted with XA (into Y6) and XB (into Y7).
#define Q5KW(B, XA, XB) \
	VPMOVZXBD B(SP), Y4; \
	VPMOVZXBD B+32(SP), Y5; \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VFMADD231PS XA, Y4, Y6; \
	VFMADD231PS XB, Y5, Y7

// Q5KBYTES(R, J, LOSH, LON, HISH, HIN, B): the 64 codes of chunk J of the
// row at R to B(SP) (low sub-block) and B+32(SP) (high); LOSH $LON and
// HISH $HIN move bits 2J and 2J+1 of qh to bit 4.
#define Q5KBYTES(R, J, LOSH, LON, HISH, HIN, B) \
	VMOVDQU 48+32*J(R), Y4; \
	VPSRLW $4, Y4, Y5; \
	VPAND kb0f<>(SB), Y4, Y4; \
	VPAND kb0f<>(SB), Y5, Y5; \
	LOSH $LON, 16(R), Y6; \
	VPAND kb10<>(SB), Y6, Y6; \
	VPOR Y6, Y4, Y4; \
	HISH $HIN, 16(R), Y7; \
	VPAND kb10<>(SB), Y7, Y7; \
	VPOR Y7, Y5, Y5; \
	VMOVDQU Y4, B(SP); \
	VMOVDQU Y5, B+32(SP)

// Q5KC(ACC, S, B): one 64-element chunk of a Q5_K row, its codes at B(SP),
// against x in Y8..Y15; scales at S(SP), S+4(SP).
#define Q5KC(ACC, S, B) \
	VPMOVZXBD B(SP), Y4; \
	VPMOVZXBD B+32(SP), Y5; \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VMULPS Y8, Y4, Y6; \
	VMULPS Y12, Y5, Y7; \
	Q5KW(B+8, Y9, Y13); \
	Q5KW(B+16, Y10, Y14); \
	Q5KW(B+24, Y11, Y15); \
	KSCALE2(ACC, S)

// Q5KB4(J, LOSH, LON, HISH, HIN): chunk J's codes of the four rows, to
// 128+256·k+64·J(SP) for row k.
#define Q5KB4(J, LOSH, LON, HISH, HIN) \
	Q5KBYTES(SI, J, LOSH, LON, HISH, HIN, 128+64*J); \
	Q5KBYTES(R9, J, LOSH, LON, HISH, HIN, 384+64*J); \
	Q5KBYTES(R10, J, LOSH, LON, HISH, HIN, 640+64*J); \
	Q5KBYTES(R11, J, LOSH, LON, HISH, HIN, 896+64*J)

#define Q5KCHUNK(J) \
	KLOADX(256*J); \
	Q5KC(Y0, 8*J, 128+64*J); \
	Q5KC(Y1, 32+8*J, 384+64*J); \
	Q5KC(Y2, 64+8*J, 640+64*J); \
	Q5KC(Y3, 96+8*J, 896+64*J)

// ---- Q6_K: u8 ql[128]; u8 qh[64]; i8 scales[16]; half d. In half n
// (128 elements) with ql' = ql[64n:], qh' = qh[32n:], for l < 32:
// element l is ql'[l] & 15 | (qh'[l] & 3) << 4, element 32+l is
// ql'[32+l] & 15 | (qh'[l] >> 2 & 3) << 4, element 64+l is ql'[l] >> 4 |
// (qh'[l] >> 4 & 3) << 4, element 96+l is ql'[32+l] >> 4 | (qh'[l] >> 6)
// << 4, each less 32; sub-block s (16 elements) is scaled by d·scales[s].
// The codes are built bytewise as signed bytes, stored to the stack in
// element order and widened from there. x is read from memory.
// Constants: Y12 = 0x0f bytes, Y13 = 0x30 bytes, Y14 = 32 bytes.

// K6SCALES(R, OFF): the row's sixteen d·scales[s] to OFF(SP).
#define K6SCALES(R, OFF) \
	VPMOVSXBD 192(R), Y4; \
	VPMOVSXBD 200(R), Y5; \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VPBROADCASTW 208(R), X6; \
	VCVTPH2PS X6, Y6; \
	VMULPS Y6, Y4, Y4; \
	VMULPS Y6, Y5, Y5; \
	VMOVUPS Y4, OFF(SP); \
	VMOVUPS Y5, OFF+32(SP)

// Q6KBYTES(R, N, B): the 128 codes of half N of the row at R, as signed
// bytes in element order, to B(SP).
#define Q6KBYTES(R, N, B) \
	VMOVDQU 64*N(R), Y4; \
	VMOVDQU 64*N+32(R), Y5; \
	VMOVDQU 128+32*N(R), Y6; \
	VPAND Y12, Y4, Y7; \
	VPSLLW $4, Y6, Y8; \
	VPAND Y13, Y8, Y8; \
	VPOR Y8, Y7, Y7; \
	VPSUBB Y14, Y7, Y7; \
	VMOVDQU Y7, B(SP); \
	VPAND Y12, Y5, Y9; \
	VPSLLW $2, Y6, Y10; \
	VPAND Y13, Y10, Y10; \
	VPOR Y10, Y9, Y9; \
	VPSUBB Y14, Y9, Y9; \
	VMOVDQU Y9, B+32(SP); \
	VPSRLW $4, Y4, Y7; \
	VPAND Y12, Y7, Y7; \
	VPAND Y13, Y6, Y8; \
	VPOR Y8, Y7, Y7; \
	VPSUBB Y14, Y7, Y7; \
	VMOVDQU Y7, B+64(SP); \
	VPSRLW $4, Y5, Y9; \
	VPAND Y12, Y9, Y9; \
	VPSRLW $2, Y6, Y10; \
	VPAND Y13, Y10, Y10; \
	VPOR Y10, Y9, Y9; \
	VPSUBB Y14, Y9, Y9; \
	VMOVDQU Y9, B+96(SP)

// Q6KS(ACC, B, S, X): ACC += scale at S(SP) · (16 codes at B(SP) · x at
// X(DI)).
#define Q6KS(ACC, B, S, X) \
	VPMOVSXBD B(SP), Y4; \
	VPMOVSXBD B+8(SP), Y5; \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VMULPS X(DI), Y4, Y4; \
	VFMADD231PS X+32(DI), Y5, Y4; \
	VBROADCASTSS S(SP), Y5; \
	VFMADD231PS Y5, Y4, ACC

// Q6KD(N, ACC, S, B): half N of a row into ACC, its codes at B(SP) and
// scales at S(SP).
#define Q6KD(N, ACC, S, B) \
	Q6KS(ACC, B, S+32*N, 512*N); \
	Q6KS(ACC, B+16, S+32*N+4, 512*N+64); \
	Q6KS(ACC, B+32, S+32*N+8, 512*N+128); \
	Q6KS(ACC, B+48, S+32*N+12, 512*N+192); \
	Q6KS(ACC, B+64, S+32*N+16, 512*N+256); \
	Q6KS(ACC, B+80, S+32*N+20, 512*N+320); \
	Q6KS(ACC, B+96, S+32*N+24, 512*N+384); \
	Q6KS(ACC, B+112, S+32*N+28, 512*N+448)

// ---- Row dequantizers (for the float matrix-matrix product): nb
// super-blocks at src to 256·nb floats at dst.

// DQSETUP loads the dequantizers' arguments: SI src, CX nb, DI dst.
#define DQSETUP \
	MOVQ src+0(FP), SI; \
	MOVQ nb+8(FP), CX; \
	MOVQ dst+16(FP), DI

// DQ8(Q, S, M, O): the eight int32 codes in Q to floats S·q − M at O(DI).
#define DQ8(Q, S, M, O) \
	VCVTDQ2PS Q, Q; \
	VFMSUB213PS M, S, Q; \
	VMOVUPS Q, O(DI)

// DQ4KG(QO, O): eight bytes of qs at QO(SI): low nibbles to O(DI) (scale
// and min in Y8, Y9), high nibbles to O+128(DI) (Y10, Y11).
#define DQ4KG(QO, O) \
	VPMOVZXBD QO(SI), Y4; \
	VPSRLD $4, Y4, Y5; \
	VPAND k0f<>(SB), Y4, Y4; \
	DQ8(Y4, Y8, Y9, O); \
	DQ8(Y5, Y10, Y11, O+128)

// DQSM(J): Y8, Y9 = scale and min of sub-block 2J, Y10, Y11 of 2J+1
// (from 0(SP) and 32(SP)).
#define DQSM(J) \
	VBROADCASTSS 8*J(SP), Y8; \
	VBROADCASTSS 32+8*J(SP), Y9; \
	VBROADCASTSS 8*J+4(SP), Y10; \
	VBROADCASTSS 32+8*J+4(SP), Y11

#define DQ4KC(J) \
	DQSM(J); \
	DQ4KG(16+32*J, 256*J); \
	DQ4KG(16+32*J+8, 256*J+32); \
	DQ4KG(16+32*J+16, 256*J+64); \
	DQ4KG(16+32*J+24, 256*J+96)

// DQ5KC(J): chunk J of a Q5_K block, its codes at 64+64·J(SP).
#define DQ5KC(J) \
	DQSM(J); \
	VPMOVZXBD 64+64*J(SP), Y4; \
	VPMOVZXBD 96+64*J(SP), Y5; \
	DQ8(Y4, Y8, Y9, 256*J); \
	DQ8(Y5, Y10, Y11, 256*J+128); \
	VPMOVZXBD 72+64*J(SP), Y4; \
	VPMOVZXBD 104+64*J(SP), Y5; \
	DQ8(Y4, Y8, Y9, 256*J+32); \
	DQ8(Y5, Y10, Y11, 256*J+160); \
	VPMOVZXBD 80+64*J(SP), Y4; \
	VPMOVZXBD 112+64*J(SP), Y5; \
	DQ8(Y4, Y8, Y9, 256*J+64); \
	DQ8(Y5, Y10, Y11, 256*J+192); \
	VPMOVZXBD 88+64*J(SP), Y4; \
	VPMOVZXBD 120+64*J(SP), Y5; \
	DQ8(Y4, Y8, Y9, 256*J+96); \
	DQ8(Y5, Y10, Y11, 256*J+224)

// DQ6KS(B, S, O): the 16 codes at B(SP), scaled by S(SP), to O(DI).
#define DQ6KS(B, S, O) \
	VPMOVSXBD B(SP), Y4; \
	VPMOVSXBD B+8(SP), Y5; \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VBROADCASTSS S(SP), Y6; \
	VMULPS Y6, Y4, Y4; \
	VMULPS Y6, Y5, Y5; \
	VMOVUPS Y4, O(DI); \
	VMOVUPS Y5, O+32(DI)

// DQ6KH(N): half N of a Q6_K block, its codes at 64+128·N(SP).
#define DQ6KH(N) \
	DQ6KS(64+128*N, 32*N, 512*N); \
	DQ6KS(80+128*N, 32*N+4, 512*N+64); \
	DQ6KS(96+128*N, 32*N+8, 512*N+128); \
	DQ6KS(112+128*N, 32*N+12, 512*N+192); \
	DQ6KS(128+128*N, 32*N+16, 512*N+256); \
	DQ6KS(144+128*N, 32*N+20, 512*N+320); \
	DQ6KS(160+128*N, 32*N+24, 512*N+384); \
	DQ6KS(176+128*N, 32*N+28, 512*N+448)

// func mvQ4Kx4(w *byte, stride int, x *float32, nb int, y *[4]float32, xs *float32)
// Four Q4_K rows at w + k·stride (stride in bytes; 0 computes one row four
// times) dotted with x over nb super-blocks; results to y[0..3]. Every row
// gets the same sequence of operations. Frame: 0..127 the rows' scales.
TEXT ·mvQ4Kx4(SB), NOSPLIT, $128-48
	KSETUP
	TESTQ CX, CX
	JE    q4kdone

q4kloop:
	VMOVUPS (R8), Y15
	KSC(SI, Y0, 0)
	KSC(R9, Y1, 32)
	KSC(R10, Y2, 64)
	KSC(R11, Y3, 96)
	Q4KCHUNK(0)
	Q4KCHUNK(1)
	KPREFETCH(0)
	Q4KCHUNK(2)
	KPREFETCH(64)
	Q4KCHUNK(3)
	KPREFETCH(128)
	KADVANCE(144)
	DECQ CX
	JNE  q4kloop

q4kdone:
	KFINISH
	RET

// func mvQ5Kx4(w *byte, stride int, x *float32, nb int, y *[4]float32, xs *float32)
// mvQ4Kx4 for Q5_K. Frame: 0..127 scales, 128+256·k .. the codes of row
// k. All four chunks' codes are built before the first is widened: a load
// soon after a wider store to the same place cannot take its data from the
// store queue and waits for the store to reach the cache. (The frame is
// too large for NOSPLIT.)
TEXT ·mvQ5Kx4(SB), $1152-48
	KSETUP
	TESTQ CX, CX
	JE    q5kdone

q5kloop:
	Q5KB4(0, VPSLLW, 4, VPSLLW, 3)
	Q5KB4(1, VPSLLW, 2, VPSLLW, 1)
	Q5KB4(2, VPSLLW, 0, VPSRLW, 1)
	Q5KB4(3, VPSRLW, 2, VPSRLW, 3)
	VMOVUPS (R8), Y15
	KSC(SI, Y0, 0)
	KSC(R9, Y1, 32)
	KSC(R10, Y2, 64)
	KSC(R11, Y3, 96)
	Q5KCHUNK(0)
	KPREFETCH(0)
	Q5KCHUNK(1)
	KPREFETCH(64)
	Q5KCHUNK(2)
	KPREFETCH(128)
	Q5KCHUNK(3)
	KPREFETCH(175) // the block's last byte
	KADVANCE(176)
	DECQ CX
	JNE  q5kloop

q5kdone:
	KFINISH
	RET

// func mvQ6Kx4(w *byte, stride int, x *float32, nb int, y *[4]float32, xs *float32)
// mvQ4Kx4 for Q6_K. Frame: 0..255 scales (64 bytes a row), 256+128·k+512·n
// the codes of row k, half n, all built before the first is widened (as
// in mvQ5Kx4).
TEXT ·mvQ6Kx4(SB), $1280-48
	KSETUP
	VMOVDQU kb0f<>(SB), Y12
	VMOVDQU kb30<>(SB), Y13
	VMOVDQU kb20<>(SB), Y14
	TESTQ CX, CX
	JE    q6kdone

q6kloop:
	K6SCALES(SI, 0)
	K6SCALES(R9, 64)
	K6SCALES(R10, 128)
	K6SCALES(R11, 192)
	Q6KBYTES(SI, 0, 256)
	Q6KBYTES(R9, 0, 384)
	Q6KBYTES(R10, 0, 512)
	Q6KBYTES(R11, 0, 640)
	Q6KBYTES(SI, 1, 768)
	Q6KBYTES(R9, 1, 896)
	Q6KBYTES(R10, 1, 1024)
	Q6KBYTES(R11, 1, 1152)
	Q6KD(0, Y0, 0, 256)
	Q6KD(0, Y1, 64, 384)
	Q6KD(0, Y2, 128, 512)
	Q6KD(0, Y3, 192, 640)
	KPREFETCH(0)
	KPREFETCH(64)
	Q6KD(1, Y0, 0, 768)
	Q6KD(1, Y1, 64, 896)
	Q6KD(1, Y2, 128, 1024)
	Q6KD(1, Y3, 192, 1152)
	KPREFETCH(128)
	KPREFETCH(192)
	KADVANCE(210)
	DECQ CX
	JNE  q6kloop

q6kdone:
	KFINISH
	RET

// func kxsums(x *float32, nb int, xs *float32)
// The sub-block sums of x for the Q4_K and Q5_K kernels: xs[8b+s] = Σ of
// the 32 floats x[256b+32s ..] for each super-block b < nb.
TEXT ·kxsums(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ nb+8(FP), CX
	MOVQ xs+16(FP), R8
	TESTQ CX, CX
	JE    kxsdone

kxsloop:
	KXSUM
	VMOVUPS Y15, (R8)
	ADDQ $32, R8
	ADDQ $1024, DI
	DECQ CX
	JNE  kxsloop

kxsdone:
	VZEROUPPER
	RET

// func dqQ4K(src *byte, nb int, dst *float32)
// The twin of tensor.DequantizeQ4K (with the multiply-subtract fused).
TEXT ·dqQ4K(SB), NOSPLIT, $64-24
	DQSETUP
	TESTQ CX, CX
	JE    dq4kdone

dq4kloop:
	KSCALES(SI)
	VMOVUPS Y6, 0(SP)
	VMOVUPS Y7, 32(SP)
	DQ4KC(0)
	DQ4KC(1)
	DQ4KC(2)
	DQ4KC(3)
	ADDQ $144, SI
	ADDQ $1024, DI
	DECQ CX
	JNE  dq4kloop

dq4kdone:
	VZEROUPPER
	RET

// func dqQ5K(src *byte, nb int, dst *float32)
// The twin of tensor.DequantizeQ5K; frame: 0..63 scales and mins,
// 64..319 the codes.
TEXT ·dqQ5K(SB), NOSPLIT, $320-24
	DQSETUP
	TESTQ CX, CX
	JE    dq5kdone

dq5kloop:
	KSCALES(SI)
	VMOVUPS Y6, 0(SP)
	VMOVUPS Y7, 32(SP)
	Q5KBYTES(SI, 0, VPSLLW, 4, VPSLLW, 3, 64)
	Q5KBYTES(SI, 1, VPSLLW, 2, VPSLLW, 1, 128)
	Q5KBYTES(SI, 2, VPSLLW, 0, VPSRLW, 1, 192)
	Q5KBYTES(SI, 3, VPSRLW, 2, VPSRLW, 3, 256)
	DQ5KC(0)
	DQ5KC(1)
	DQ5KC(2)
	DQ5KC(3)
	ADDQ $176, SI
	ADDQ $1024, DI
	DECQ CX
	JNE  dq5kloop

dq5kdone:
	VZEROUPPER
	RET

// func dqQ6K(src *byte, nb int, dst *float32)
// The twin of tensor.DequantizeQ6K; frame: 0..63 scales, 64..319 the
// codes.
TEXT ·dqQ6K(SB), NOSPLIT, $320-24
	DQSETUP
	VMOVDQU kb0f<>(SB), Y12
	VMOVDQU kb30<>(SB), Y13
	VMOVDQU kb20<>(SB), Y14
	TESTQ CX, CX
	JE    dq6kdone

dq6kloop:
	K6SCALES(SI, 0)
	Q6KBYTES(SI, 0, 64)
	Q6KBYTES(SI, 1, 192)
	DQ6KH(0)
	DQ6KH(1)
	ADDQ $210, SI
	ADDQ $1024, DI
	DECQ CX
	JNE  dq6kloop

dq6kdone:
	VZEROUPPER
	RET

// Code masks: k0f 15 per dword; kb0f, kb10, kb30, kb20 per byte.
DATA k0f<>+0(SB)/8, $0x0000000f0000000f
DATA k0f<>+8(SB)/8, $0x0000000f0000000f
DATA k0f<>+16(SB)/8, $0x0000000f0000000f
DATA k0f<>+24(SB)/8, $0x0000000f0000000f
GLOBL k0f<>(SB), RODATA|NOPTR, $32

DATA kb0f<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA kb0f<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA kb0f<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA kb0f<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL kb0f<>(SB), RODATA|NOPTR, $32

DATA kb10<>+0(SB)/8, $0x1010101010101010
DATA kb10<>+8(SB)/8, $0x1010101010101010
DATA kb10<>+16(SB)/8, $0x1010101010101010
DATA kb10<>+24(SB)/8, $0x1010101010101010
GLOBL kb10<>(SB), RODATA|NOPTR, $32

DATA kb30<>+0(SB)/8, $0x3030303030303030
DATA kb30<>+8(SB)/8, $0x3030303030303030
DATA kb30<>+16(SB)/8, $0x3030303030303030
DATA kb30<>+24(SB)/8, $0x3030303030303030
GLOBL kb30<>(SB), RODATA|NOPTR, $32

DATA kb20<>+0(SB)/8, $0x2020202020202020
DATA kb20<>+8(SB)/8, $0x2020202020202020
DATA kb20<>+16(SB)/8, $0x2020202020202020
DATA kb20<>+24(SB)/8, $0x2020202020202020
GLOBL kb20<>(SB), RODATA|NOPTR, $32
