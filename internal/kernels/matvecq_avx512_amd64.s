//go:build amd64 && !purego

#include "textflag.h"

// Integer MatVec (decode) with AVX-512 VNNI. Q5_0 and Q5_1 run the mvq*x4
// kernels' frame in fewer instructions, and bit for bit their results;
// Q8_0 gives the generic twin's (see below); Q4_0 and Q4_1 use a frame of
// their own (further down) that takes still fewer. Two rows' 32 codes each are
// widened to bytes in one Z register, and one VPDPBUSD (u8 codes · s8 q,
// groups of four summed into int32, no int16 saturation) replaces two
// rows' VPMADDUBSW + VPMADDWD; its eight int32 lanes per row are the avx2
// kernels' lanes exactly. A type's offset (Q5_0 −16, Q8_0 −128
// after the sign flip) starts the lanes at −off·Σq, computed once per block
// for the four rows. Q5's fifth bits are a mask register: one masked byte
// add instead of a six-instruction expansion.
//
// The scaling is the avx2 kernels' arithmetic, two rows per instruction:
// the four rows' d are gathered in integer registers (whose units are
// otherwise idle), converted together and multiplied by dx, spread over
// their rows' lanes, and each row's lanes FMA into its float accumulator.
// Q8_0 instead sums each row's lanes to one exact int32 per block and
// scales the four rows' sums together, which is the generic twin's
// arithmetic in its order: it computes a little slower from L2 than the
// lane scaling but streams from memory at the avx2 kernel's rate, where
// the lane scaling measured 20% below it (26-27 against 34 GB/s on one
// Zen 5 core), and Q8_0 decode is bound by memory.

// Registers: SI row 0, BX the row stride, R9 3·stride (rows 1..3 are
// (SI)(BX*1), (SI)(BX*2), (SI)(R9*1)), R12 row 0 + pf (prefetch); DI q; DX the
// (dx, sx) pairs; CX blocks left; AX, R10 half scales. Z0 rows 0, 1's
// lanes, Z2 rows 2, 3's; Z4 q in both halves; Z5 −off·Σq lanes; Z6 0x0f
// bytes; Z7 the offset bytes; Z8, Z9 codes; X10, Z10, Z11 scales; Z12
// zero; Z13 0x10 bytes; X15 dx, then sx; Z16 the nibble shifts; Z17, Z18
// the spreads of rows 0, 1 and 2, 3; Z20, Z21 the float accumulators of
// rows 0, 1 and 2, 3; X22 the rows' m·sx sums (Q8_0: the rows' sums); K2
// the upper half of a Z in dwords.

#define MVQSETUPV \
	MVGROUPV; \
	VPXORD Z12, Z12, Z12; \
	MOVL $0x0f0f0f0f, AX; \
	VPBROADCASTD AX, Z6; \
	VMOVDQU64 mvvNibShift<>(SB), Z16; \
	VMOVDQU32 mvvSpread<>+0(SB), Z17; \
	VMOVDQU32 mvvSpread<>+64(SB), Z18; \
	MOVL $0xff00, AX; \
	KMOVW AX, K2

// Every VNNI kernel runs many groups of four rows per call, so that Go
// pays one call per run of groups instead of one per group (a group of
// four 2048-column Q4_0 rows takes about 0.1 µs; the call and the row
// bookkeeping around it took a tenth of that). Group g reads rows
// w + g·step + i·stride and stores row i's result at y + g·ystep +
// i·ystride (all in bytes), i < 4. R13 holds the group's first row, R11
// its y, R8 the groups left.

// MVGROUPV loads the group arguments.
#define MVGROUPV \
	MOVQ w+0(FP), R13; \
	MOVQ y+40(FP), R11; \
	MOVQ groups+64(FP), R8

// GINITV starts a group: the row, activation and scale pointers, the
// block count, and zero accumulators.
#define GINITV \
	MOVQ R13, SI; \
	MOVQ stride+8(FP), BX; \
	MOVQ q+16(FP), DI; \
	MOVQ ds+24(FP), DX; \
	MOVQ n+32(FP), CX; \
	LEAQ (BX)(BX*2), R9; \
	MOVQ pf+56(FP), R12; \
	ADDQ SI, R12; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD X22, X22, X22

// GNEXTV stores X0's four row results and steps to the next group; the
// flags are set for the loop's JNE.
#define GNEXTV \
	MOVQ ystride+80(FP), AX; \
	VMOVSS X0, (R11); \
	VEXTRACTPS $1, X0, (R11)(AX*1); \
	VEXTRACTPS $2, X0, (R11)(AX*2); \
	LEAQ (R11)(AX*2), R10; \
	VEXTRACTPS $3, X0, (R10)(AX*1); \
	ADDQ step+72(FP), R13; \
	ADDQ ystep+88(FP), R11; \
	DECQ R8

// OFFSETV(B): Z7 = bytes B; the four-byte pattern B is the type's offset.
#define OFFSETV(B) \
	MOVL B, AX; \
	VPBROADCASTD AX, Z7

// CORRV(Q, CORR): CORR = −off·(sums of four q), off the bytes of Z7.
#define CORRV(Q, CORR) \
	VPXORD CORR, CORR, CORR; \
	VPDPBUSD Q, Z7, CORR; \
	VPSUBD CORR, Z12, CORR

// NIBV(A0, A1, C): C = the 32 nibble codes of the 16 bytes at A0, in
// element order (low nibbles then high nibbles), and above them those of A1.
#define NIBV(A0, A1, C) \
	VBROADCASTI32X4 A0, C; \
	VBROADCASTI32X4 A1, K2, C; \
	VPSRLVQ Z16, C, C; \
	VPANDD Z6, C, C

// HIV(A0, A1, C): adds 0x10 to code j of C where bit j of the u32 at A0
// is set, and to code 32+j where bit j at A1 is.
#define HIV(A0, A1, C) \
	KMOVD A0, K1; \
	KMOVD A1, K3; \
	KUNPCKDQ K1, K3, K1; \
	VPADDB Z13, C, K1, C

// DOTV(Q, CORR, C, ACC): ACC = CORR + codes(C)·Q lanes; DOTNV(Q, C, ACC)
// without an offset.
#define DOTV(Q, CORR, C, ACC) \
	VMOVDQA64 CORR, ACC; \
	VPDPBUSD Q, C, ACC

#define DOTNV(Q, C, ACC) \
	VPXORD ACC, ACC, ACC; \
	VPDPBUSD Q, C, ACC

// HALF4(OFF, R, T): R = the halves at OFF of the four rows, row 0 in the
// low 16 bits.
#define HALF4(OFF, R, T) \
	MOVWQZX OFF(SI), R; \
	MOVWQZX OFF(SI)(BX*1), T; \
	SHLQ $16, T; \
	ORQ T, R; \
	MOVWQZX OFF(SI)(BX*2), T; \
	SHLQ $32, T; \
	ORQ T, R; \
	MOVWQZX OFF(SI)(R9*1), T; \
	SHLQ $48, T; \
	ORQ T, R

// SCALEV: the rows' lanes, as float, FMA times d·dx into their
// accumulators (the avx2 kernels' SCALEQ, two rows at a time).
#define SCALEV \
	HALF4(0, AX, R10); \
	VMOVQ AX, X10; \
	VCVTPH2PS X10, X10; \
	VBROADCASTSS (DX), X15; \
	VMULPS X15, X10, X10; \
	VPERMPS Z10, Z17, Z11; \
	VPERMPS Z10, Z18, Z10; \
	VCVTDQ2PS Z0, Z0; \
	VCVTDQ2PS Z2, Z2; \
	VFMADD231PS Z11, Z0, Z20; \
	VFMADD231PS Z10, Z2, Z21

// MTERMV: X22 += m·sx, m the halves at 2 (the avx2 kernels' MTERMQ).
#define MTERMV \
	HALF4(2, AX, R10); \
	VMOVQ AX, X10; \
	VCVTPH2PS X10, X10; \
	VBROADCASTSS 4(DX), X15; \
	VFMADD231PS X15, X10, X22

// ADVANCEV(BYTES) prefetches each row pf bytes ahead and steps a block.
#define ADVANCEV(BYTES) \
	PREFETCHT0 (R12); \
	PREFETCHT0 (R12)(BX*1); \
	PREFETCHT0 (R12)(BX*2); \
	PREFETCHT0 (R12)(R9*1); \
	ADDQ $BYTES, SI; \
	ADDQ $BYTES, R12; \
	ADDQ $32, DI; \
	ADDQ $8, DX

// ROWSUMV: X22 += float32(the row sums of Z0, Z2)·(d·dx), for Q8_0.
#define ROWSUMV \
	VPUNPCKLDQ Z2, Z0, Z8; \
	VPUNPCKHDQ Z2, Z0, Z0; \
	VPADDD Z8, Z0, Z0; \
	VPSHUFD $0x4e, Z0, Z8; \
	VPADDD Z8, Z0, Z0; \
	VSHUFI64X2 $0xb1, Z0, Z0, Z8; \
	VPADDD Z8, Z0, Z0; \
	VEXTRACTI32X4 $2, Z0, X1; \
	VPUNPCKLDQ X1, X0, X0; \
	VCVTDQ2PS X0, X0; \
	HALF4(0, AX, R10); \
	VMOVQ AX, X10; \
	VCVTPH2PS X10, X10; \
	VBROADCASTSS (DX), X15; \
	VMULPS X15, X10, X10; \
	VMULPS X10, X0, X0; \
	VADDPS X0, X22, X22

// FINISHV sums each row's lanes in the avx2 kernels' order (FINISHQ) and adds
// X22 (the m terms; Q8_0's row sums, to +0): the four rows in X0.
#define FINISHV \
	VMOVAPS Y20, Y0; \
	VEXTRACTF64X4 $1, Z20, Y1; \
	VMOVAPS Y21, Y2; \
	VEXTRACTF64X4 $1, Z21, Y3; \
	VHADDPS Y1, Y0, Y0; \
	VHADDPS Y3, Y2, Y2; \
	VHADDPS Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS X1, X0, X0; \
	VMOVAPS X22, X1; \
	VADDPS X1, X0, X0

// Q8_0: half d; i8 qs[32]. w XOR 0x80 = w+128 is unsigned; Z5 takes the
// 128·Σq back off.
#define Q80ROWSV(A0, A1, C, ACC) \
	VMOVDQU64 A0, Y8; \
	VINSERTI64X4 $1, A1, Z8, C; \
	VPXORD Z7, C, C; \
	DOTV(Z4, Z5, C, ACC)

// func mvqQ8_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)
TEXT ·mvqQ8_0x4V(SB), NOSPLIT, $0-96
	MVQSETUPV
	OFFSETV($0x80808080)

q80group:
	GINITV
	TESTQ CX, CX
	JE    q80done

q80loop:
	VBROADCASTI64X4 (DI), Z4
	CORRV(Z4, Z5)
	Q80ROWSV(2(SI), 2(SI)(BX*1), Z8, Z0)
	Q80ROWSV(2(SI)(BX*2), 2(SI)(R9*1), Z9, Z2)
	ROWSUMV
	ADVANCEV(34)
	DECQ CX
	JNE  q80loop

q80done:
	FINISHV
	GNEXTV
	JNE q80group
	VZEROUPPER
	RET

// The four-bit types (Q4_0, Q4_1) put row r's block in the
// Z's 128-bit lane r: its 16 bytes of codes, low nibbles in one Z and high
// nibbles in another, so that one VPDPBUSD with q's first half and one
// with its second half leave each row's block sum in four int32 lanes.
// One conversion and one FMA then scale all four rows (the scales spread
// by lane), where the two-rows-per-Z frame above takes two of each plus
// the offset correction. A type's offset enters as a float term, as Q4_1's
// m does: (c − off)·d = c·d + (−off·d), so Σ_b d·dx·Σc·q − off·Σ_b d·sx.

// Registers: SI row 0, BX the row stride, R9 3·stride, R12 row 0 + pf;
// DI q; DX the (dx, sx) pairs; CX blocks left; AX, R10 half scales. Z4, Z5
// q's halves in every lane; Z6 0x0f bytes; Z8, Z9 low and high codes; Z0
// a block's lanes; X10, Z11 scales; Z17 the spread; Z20
// the float accumulator; X22 the rows' Σ d·sx (offset types) or Σ m·sx;
// X23 the factor of X22 in the result (−off, or 1).

#define MVRSETUP(FACTOR) \
	MVGROUPV; \
	MOVL $0x0f0f0f0f, AX; \
	VPBROADCASTD AX, Z6; \
	MOVL FACTOR, AX; \
	VMOVD AX, X23; \
	VBROADCASTSS X23, X23; \
	VMOVDQU32 mvrSpread<>(SB), Z17

// CODES4(OFF): Z8, Z9 = the low and high nibbles of the 16 code bytes at
// OFF of rows 0..3, row r in lane r.
#define CODES4(OFF) \
	VMOVDQU OFF(SI), X8; \
	VINSERTI32X4 $1, OFF(SI)(BX*1), Z8, Z8; \
	VINSERTI32X4 $2, OFF(SI)(BX*2), Z8, Z8; \
	VINSERTI32X4 $3, OFF(SI)(R9*1), Z8, Z8; \
	VPSRLW $4, Z8, Z9; \
	VPANDD Z6, Z8, Z8; \
	VPANDD Z6, Z9, Z9

// DOT4: Z0 = each row's Σ code·q in its lane's four int32.
#define DOT4 \
	VBROADCASTI32X4 (DI), Z4; \
	VBROADCASTI32X4 16(DI), Z5; \
	VPXORD Z0, Z0, Z0; \
	VPDPBUSD Z4, Z8, Z0; \
	VPDPBUSD Z5, Z9, Z0

// SCALE4(SX): Z20 += the lanes·(d·dx), spread by row; with SX, X22 += d·sx.
#define SCALE4 \
	HALF4(0, AX, R10); \
	VMOVQ AX, X10; \
	VCVTPH2PS X10, X10; \
	VMULPS.BCST (DX), X10, X11; \
	VPERMPS Z11, Z17, Z11; \
	VCVTDQ2PS Z0, Z0; \
	VFMADD231PS Z11, Z0, Z20

#define OFFTERM4 \
	VFMADD231PS.BCST 4(DX), X10, X22

// MTERM4: X22 += m·sx, m the halves at 2.
#define MTERM4 \
	HALF4(2, AX, R10); \
	VMOVQ AX, X10; \
	VCVTPH2PS X10, X10; \
	VFMADD231PS.BCST 4(DX), X10, X22

// FINISH4 sums each row's four lanes and adds X22·X23: the rows in X0.
#define FINISH4 \
	VEXTRACTF64X4 $1, Z20, Y1; \
	VMOVAPS Y20, Y0; \
	VHADDPS Y1, Y0, Y0; \
	VHADDPS Y0, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VUNPCKLPS X1, X0, X0; \
	VFMADD231PS X23, X22, X0

// Q4_0: half d; u8 qs[16]; value = nibble − 8.
// func mvqQ4_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)
TEXT ·mvqQ4_0x4V(SB), NOSPLIT, $0-96
	MVRSETUP($0xc1000000) // −8

q40group:
	GINITV
	TESTQ CX, CX
	JE    q40done

q40loop:
	CODES4(2)
	DOT4
	SCALE4
	OFFTERM4
	ADVANCEV(18)
	DECQ CX
	JNE  q40loop

q40done:
	FINISH4
	GNEXTV
	JNE q40group
	VZEROUPPER
	RET

// Q4_1: half d; half m; u8 qs[16]; value = nibble·d + m.
// func mvqQ4_1x4V(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)
TEXT ·mvqQ4_1x4V(SB), NOSPLIT, $0-96
	MVRSETUP($0x3f800000) // 1

q41group:
	GINITV
	TESTQ CX, CX
	JE    q41done

q41loop:
	CODES4(4)
	DOT4
	SCALE4
	MTERM4
	ADVANCEV(20)
	DECQ CX
	JNE  q41loop

q41done:
	FINISH4
	GNEXTV
	JNE q41group
	VZEROUPPER
	RET

// Q5_0: half d; u32 qh; u8 qs[16]; value = (nibble | bit<<4) − 16.
#define Q50ROWSV(S0, S1, H0, H1, C, ACC) \
	NIBV(S0, S1, C); \
	HIV(H0, H1, C); \
	DOTV(Z4, Z5, C, ACC)

// func mvqQ5_0x4V(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)
TEXT ·mvqQ5_0x4V(SB), NOSPLIT, $0-96
	MVQSETUPV
	OFFSETV($0x10101010)
	VMOVDQA64 Z7, Z13

q50group:
	GINITV
	TESTQ CX, CX
	JE    q50done

q50loop:
	VBROADCASTI64X4 (DI), Z4
	CORRV(Z4, Z5)
	Q50ROWSV(6(SI), 6(SI)(BX*1), 2(SI), 2(SI)(BX*1), Z8, Z0)
	Q50ROWSV(6(SI)(BX*2), 6(SI)(R9*1), 2(SI)(BX*2), 2(SI)(R9*1), Z9, Z2)
	SCALEV
	ADVANCEV(22)
	DECQ CX
	JNE  q50loop

q50done:
	FINISHV
	GNEXTV
	JNE q50group
	VZEROUPPER
	RET

// Q5_1: half d; half m; u32 qh; u8 qs[16]; value = (nibble | bit<<4)·d + m.
#define Q51ROWSV(S0, S1, H0, H1, C, ACC) \
	NIBV(S0, S1, C); \
	HIV(H0, H1, C); \
	DOTNV(Z4, C, ACC)

// func mvqQ5_1x4V(w *byte, stride int, q *byte, ds *float32, n int, y *float32, tbl *[65536]float32, pf int, groups, step, ystride, ystep int)
TEXT ·mvqQ5_1x4V(SB), NOSPLIT, $0-96
	MVQSETUPV
	MOVL $0x10101010, AX
	VPBROADCASTD AX, Z13

q51group:
	GINITV
	TESTQ CX, CX
	JE    q51done

q51loop:
	VBROADCASTI64X4 (DI), Z4
	Q51ROWSV(8(SI), 8(SI)(BX*1), 4(SI), 4(SI)(BX*1), Z8, Z0)
	Q51ROWSV(8(SI)(BX*2), 8(SI)(R9*1), 4(SI)(BX*2), 4(SI)(R9*1), Z9, Z2)
	SCALEV
	MTERMV
	ADVANCEV(24)
	DECQ CX
	JNE  q51loop

q51done:
	FINISHV
	GNEXTV
	JNE q51group
	VZEROUPPER
	RET

// Nibble shifts: low nibbles from the first 16 bytes of each row, high
// from the second copy.
DATA mvvNibShift<>+0(SB)/8, $0
DATA mvvNibShift<>+8(SB)/8, $0
DATA mvvNibShift<>+16(SB)/8, $4
DATA mvvNibShift<>+24(SB)/8, $4
DATA mvvNibShift<>+32(SB)/8, $0
DATA mvvNibShift<>+40(SB)/8, $0
DATA mvvNibShift<>+48(SB)/8, $4
DATA mvvNibShift<>+56(SB)/8, $4
GLOBL mvvNibShift<>(SB), RODATA|NOPTR, $64

// Scale spreads: the first and second of four scales over a Z's two
// halves of eight lanes, then the third and fourth.
DATA mvvSpread<>+0(SB)/8, $0
DATA mvvSpread<>+8(SB)/8, $0
DATA mvvSpread<>+16(SB)/8, $0
DATA mvvSpread<>+24(SB)/8, $0
DATA mvvSpread<>+32(SB)/8, $0x0000000100000001
DATA mvvSpread<>+40(SB)/8, $0x0000000100000001
DATA mvvSpread<>+48(SB)/8, $0x0000000100000001
DATA mvvSpread<>+56(SB)/8, $0x0000000100000001
DATA mvvSpread<>+64(SB)/8, $0x0000000200000002
DATA mvvSpread<>+72(SB)/8, $0x0000000200000002
DATA mvvSpread<>+80(SB)/8, $0x0000000200000002
DATA mvvSpread<>+88(SB)/8, $0x0000000200000002
DATA mvvSpread<>+96(SB)/8, $0x0000000300000003
DATA mvvSpread<>+104(SB)/8, $0x0000000300000003
DATA mvvSpread<>+112(SB)/8, $0x0000000300000003
DATA mvvSpread<>+120(SB)/8, $0x0000000300000003
GLOBL mvvSpread<>(SB), RODATA|NOPTR, $128

// Spread of four scales: scale r over lane r's four floats.
DATA mvrSpread<>+0(SB)/8, $0
DATA mvrSpread<>+8(SB)/8, $0
DATA mvrSpread<>+16(SB)/8, $0x0000000100000001
DATA mvrSpread<>+24(SB)/8, $0x0000000100000001
DATA mvrSpread<>+32(SB)/8, $0x0000000200000002
DATA mvrSpread<>+40(SB)/8, $0x0000000200000002
DATA mvrSpread<>+48(SB)/8, $0x0000000300000003
DATA mvrSpread<>+56(SB)/8, $0x0000000300000003
GLOBL mvrSpread<>(SB), RODATA|NOPTR, $64
