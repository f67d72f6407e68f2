//go:build amd64 && !purego

// The 512-bit float matrix-matrix kernel of the avx512 set (driven by
// matMulFloat in platform_amd64.go). Register use as in kernels_amd64.s:
// AX BX CX DX SI DI R8-R13 only.
//
// Only EVEX (zmm) instructions touch the accumulators while they are live:
// a VEX 256-bit write to Y0-Y15 would zero the upper half of the Z
// register. VEX code runs only in the final sums, on registers whose
// upper halves have been folded in already.

#include "textflag.h"

// MMZSETUP loads the four weight-row pointers (SI, BX, R10, R11), the
// count in bytes (CX) and K1 = the low eight lanes, for the 8-column tail.
#define MMZSETUP \
	MOVQ w+0(FP), SI; \
	MOVQ wstride+8(FP), AX; \
	LEAQ (SI)(AX*1), BX; \
	LEAQ (BX)(AX*1), R10; \
	LEAQ (R10)(AX*1), R11; \
	MOVQ n+64(FP), CX; \
	SHLQ $2, CX; \
	MOVL $0xff, AX; \
	KMOVW AX, K1

// WLD loads 16 columns of the four rows at byte offset AX; WLDZ the
// low 8 (the rest zero, never read).
#define WLD \
	VMOVUPS (SI)(AX*1), Z24; \
	VMOVUPS (BX)(AX*1), Z25; \
	VMOVUPS (R10)(AX*1), Z26; \
	VMOVUPS (R11)(AX*1), Z27

#define WLDZ \
	VMOVUPS.Z (SI)(AX*1), K1, Z24; \
	VMOVUPS.Z (BX)(AX*1), K1, Z25; \
	VMOVUPS.Z (R10)(AX*1), K1, Z26; \
	VMOVUPS.Z (R11)(AX*1), K1, Z27

// TOK(P, X, A0..A3): one token's columns from P into X, times the four
// rows into A0..A3. TOKZ is the masked 8-column form.
#define TOK(P, X, A0, A1, A2, A3) \
	VMOVUPS (P)(AX*1), X; \
	VFMADD231PS X, Z24, A0; \
	VFMADD231PS X, Z25, A1; \
	VFMADD231PS X, Z26, A2; \
	VFMADD231PS X, Z27, A3

#define TOKZ(P, X, A0, A1, A2, A3) \
	VMOVUPS.Z (P)(AX*1), K1, X; \
	VFMADD231PS X, Z24, A0; \
	VFMADD231PS X, Z25, A1; \
	VFMADD231PS X, Z26, A2; \
	VFMADD231PS X, Z27, A3

#define ZERO4(A0, A1, A2, A3) \
	VPXORD A0, A0, A0; \
	VPXORD A1, A1, A1; \
	VPXORD A2, A2, A2; \
	VPXORD A3, A3, A3

// FOLD(Z, Y, D): D (a ymm in Y0-Y15) = low + high half of Z (Y is Z's
// ymm name).
#define FOLD(Z, Y, D) \
	VEXTRACTF64X4 $1, Z, Y28; \
	VADDPS Y28, Y, D

// SUM4(A, B, C, D, XA, XB): XA[k] = Σ lanes of row k's ymm (A..D, in
// Y0-Y15; B is clobbered). Every row gets the same order of additions.
#define SUM4(A, B, C, D, XA, XB) \
	VHADDPS B, A, A; \
	VHADDPS D, C, C; \
	VHADDPS C, A, A; \
	VEXTRACTF128 $1, A, XB; \
	VADDPS XB, XA, XA

// YPUT(XA, XT): one token's four sums to the rows in K2 at DX, plus the
// old values where K3 (K2 if acc, else none); DX moves to the next token.
#define YPUT(XA, XT) \
	VMOVUPS.Z (DX), K3, XT; \
	VADDPS XT, XA, XA; \
	VMOVUPS XA, K2, (DX); \
	ADDQ BX, DX

// func mmF32x4x6z(w *float32, wstride int, x0, x1, x2, x3, x4, x5 *float32, n int, y *float32, ystride, nt, rows, acc int)
// The 4×6 register block: rows w + k·wstride (k < 4, stride in bytes)
// against six token rows, n columns (a positive multiple of 8). The sums
// go to y + t·ystride + 4k (ystride in bytes) for tokens t < nt (1 ≤ nt
// ≤ 6) and rows k < 4 selected by the bit mask rows, added to y's values if acc ≠ 0; the
// other tokens' sums are dropped and nothing else in y is touched.
// 24 accumulators Z0-Z23 (token t, row k in Z(4t+k)), the rows' 16
// columns in Z24-Z27, tokens through Z28-Z31; every output is the same
// FMA chain and the same final sum.
TEXT ·mmF32x4x6z(SB), NOSPLIT, $0-112
	MMZSETUP
	MOVQ x0+16(FP), DI
	MOVQ x1+24(FP), R8
	MOVQ x2+32(FP), R9
	MOVQ x3+40(FP), R12
	MOVQ x4+48(FP), R13
	MOVQ x5+56(FP), DX
	ZERO4(Z0, Z1, Z2, Z3)
	ZERO4(Z4, Z5, Z6, Z7)
	ZERO4(Z8, Z9, Z10, Z11)
	ZERO4(Z12, Z13, Z14, Z15)
	ZERO4(Z16, Z17, Z18, Z19)
	ZERO4(Z20, Z21, Z22, Z23)
	XORL AX, AX
	SUBQ $64, CX
	JL   mm46tail

mm46loop:
	WLD
	TOK(DI, Z28, Z0, Z1, Z2, Z3)
	TOK(R8, Z29, Z4, Z5, Z6, Z7)
	TOK(R9, Z30, Z8, Z9, Z10, Z11)
	TOK(R12, Z31, Z12, Z13, Z14, Z15)
	TOK(R13, Z28, Z16, Z17, Z18, Z19)
	TOK(DX, Z29, Z20, Z21, Z22, Z23)
	ADDQ $64, AX
	CMPQ AX, CX
	JLE  mm46loop

mm46tail:
	ADDQ $64, CX
	CMPQ AX, CX
	JGE  mm46done
	WLDZ
	TOKZ(DI, Z28, Z0, Z1, Z2, Z3)
	TOKZ(R8, Z29, Z4, Z5, Z6, Z7)
	TOKZ(R9, Z30, Z8, Z9, Z10, Z11)
	TOKZ(R12, Z31, Z12, Z13, Z14, Z15)
	TOKZ(R13, Z28, Z16, Z17, Z18, Z19)
	TOKZ(DX, Z29, Z20, Z21, Z22, Z23)

mm46done:
	MOVQ y+72(FP), DX
	MOVQ ystride+80(FP), BX
	MOVQ nt+88(FP), CX
	MOVQ rows+96(FP), AX
	KMOVW AX, K2
	MOVQ acc+104(FP), R8
	NEGQ R8
	ANDQ AX, R8
	KMOVW R8, K3
	FOLD(Z0, Y0, Y0)
	FOLD(Z1, Y1, Y1)
	FOLD(Z2, Y2, Y2)
	FOLD(Z3, Y3, Y3)
	FOLD(Z4, Y4, Y4)
	FOLD(Z5, Y5, Y5)
	FOLD(Z6, Y6, Y6)
	FOLD(Z7, Y7, Y7)
	FOLD(Z8, Y8, Y8)
	FOLD(Z9, Y9, Y9)
	FOLD(Z10, Y10, Y10)
	FOLD(Z11, Y11, Y11)
	FOLD(Z12, Y12, Y12)
	FOLD(Z13, Y13, Y13)
	FOLD(Z14, Y14, Y14)
	FOLD(Z15, Y15, Y15)
	SUM4(Y0, Y1, Y2, Y3, X0, X1)
	SUM4(Y4, Y5, Y6, Y7, X4, X5)
	SUM4(Y8, Y9, Y10, Y11, X8, X9)
	SUM4(Y12, Y13, Y14, Y15, X12, X13)
	FOLD(Z16, Y16, Y1)
	FOLD(Z17, Y17, Y2)
	FOLD(Z18, Y18, Y3)
	FOLD(Z19, Y19, Y5)
	FOLD(Z20, Y20, Y6)
	FOLD(Z21, Y21, Y7)
	FOLD(Z22, Y22, Y9)
	FOLD(Z23, Y23, Y10)
	SUM4(Y1, Y2, Y3, Y5, X1, X2)
	SUM4(Y6, Y7, Y9, Y10, X6, X7)
	YPUT(X0, X3)
	DECQ CX
	JEQ  mm46ret
	YPUT(X4, X3)
	DECQ CX
	JEQ  mm46ret
	YPUT(X8, X3)
	DECQ CX
	JEQ  mm46ret
	YPUT(X12, X3)
	DECQ CX
	JEQ  mm46ret
	YPUT(X1, X3)
	DECQ CX
	JEQ  mm46ret
	YPUT(X6, X3)

mm46ret:
	VZEROUPPER
	RET
