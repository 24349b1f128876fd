//go:build !purego

#include "textflag.h"

// func microAVX2(qp *float32, p *float32, dim uintptr, out *float32, ostride uintptr)
//
// out[i*ostride+j] = sum over d of qp[d*6+i] * p[d*16+j], for 6 packed queries i and 16 packed
// candidates j. Every lane sums with one fused multiply-add per d, in order d = 0, 1, ..., dim-1.
// ostride is in bytes.
TEXT ·microAVX2(SB), NOSPLIT, $0-40
	MOVQ qp+0(FP), SI
	MOVQ p+8(FP), DI
	MOVQ dim+16(FP), CX
	MOVQ out+24(FP), DX
	MOVQ ostride+32(FP), R8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

loop2:
	VMOVUPS      (DI), Y12
	VMOVUPS      32(DI), Y13
	VBROADCASTSS (SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS 4(SI), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS 8(SI), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS 12(SI), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS 16(SI), Y14
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VBROADCASTSS 20(SI), Y15
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11
	ADDQ         $64, DI
	ADDQ         $24, SI
	DECQ         CX
	JNZ          loop2

	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y2, (DX)
	VMOVUPS Y3, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y4, (DX)
	VMOVUPS Y5, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y6, (DX)
	VMOVUPS Y7, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	ADDQ    R8, DX
	VMOVUPS Y10, (DX)
	VMOVUPS Y11, 32(DX)
	VZEROUPPER
	RET

// func microAVX512(qp *float32, p *float32, dim uintptr, out *float32, ostride uintptr)
//
// The same for 12 packed queries (qp[d*12+i]) by 16 candidates, one ZMM accumulator per query, each
// query's component broadcast from memory into its fused multiply-add.
TEXT ·microAVX512(SB), NOSPLIT, $0-40
	MOVQ qp+0(FP), SI
	MOVQ p+8(FP), DI
	MOVQ dim+16(FP), CX
	MOVQ out+24(FP), DX
	MOVQ ostride+32(FP), R8
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

loop512:
	VMOVUPS          (DI), Z12
	VFMADD231PS.BCST (SI), Z12, Z0
	VFMADD231PS.BCST 4(SI), Z12, Z1
	VFMADD231PS.BCST 8(SI), Z12, Z2
	VFMADD231PS.BCST 12(SI), Z12, Z3
	VFMADD231PS.BCST 16(SI), Z12, Z4
	VFMADD231PS.BCST 20(SI), Z12, Z5
	VFMADD231PS.BCST 24(SI), Z12, Z6
	VFMADD231PS.BCST 28(SI), Z12, Z7
	VFMADD231PS.BCST 32(SI), Z12, Z8
	VFMADD231PS.BCST 36(SI), Z12, Z9
	VFMADD231PS.BCST 40(SI), Z12, Z10
	VFMADD231PS.BCST 44(SI), Z12, Z11
	ADDQ             $64, DI
	ADDQ             $48, SI
	DECQ             CX
	JNZ              loop512

	VMOVUPS Z0, (DX)
	ADDQ    R8, DX
	VMOVUPS Z1, (DX)
	ADDQ    R8, DX
	VMOVUPS Z2, (DX)
	ADDQ    R8, DX
	VMOVUPS Z3, (DX)
	ADDQ    R8, DX
	VMOVUPS Z4, (DX)
	ADDQ    R8, DX
	VMOVUPS Z5, (DX)
	ADDQ    R8, DX
	VMOVUPS Z6, (DX)
	ADDQ    R8, DX
	VMOVUPS Z7, (DX)
	ADDQ    R8, DX
	VMOVUPS Z8, (DX)
	ADDQ    R8, DX
	VMOVUPS Z9, (DX)
	ADDQ    R8, DX
	VMOVUPS Z10, (DX)
	ADDQ    R8, DX
	VMOVUPS Z11, (DX)
	VZEROUPPER
	RET

// func countAVX2(s *float32, n uintptr, t float32) uintptr
//
// Returns how many of s[0:n] are > t; n is a multiple of 8.
TEXT ·countAVX2(SB), NOSPLIT, $0-32
	MOVQ s+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS t+16(FP), Y15
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3

gt32:
	CMPQ CX, $32
	JB   gt8
	VCMPPS $0x11, (SI), Y15, Y4
	VCMPPS $0x11, 32(SI), Y15, Y5
	VCMPPS $0x11, 64(SI), Y15, Y6
	VCMPPS $0x11, 96(SI), Y15, Y7
	VPSUBD Y4, Y0, Y0
	VPSUBD Y5, Y1, Y1
	VPSUBD Y6, Y2, Y2
	VPSUBD Y7, Y3, Y3
	ADDQ   $128, SI
	SUBQ   $32, CX
	JMP    gt32

gt8:
	TESTQ CX, CX
	JZ    sum
	VCMPPS $0x11, (SI), Y15, Y4
	VPSUBD Y4, Y0, Y0
	ADDQ   $32, SI
	SUBQ   $8, CX
	JMP    gt8

sum:
	VPADDD Y1, Y0, Y0
	VPADDD Y3, Y2, Y2
	VPADDD Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0xb1, X0, X1
	VPADDD X1, X0, X0
	MOVL X0, AX
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET

// func aboveMaskAVX2(s *float32, n uintptr, t float32, mask *byte)
//
// Sets bit i of mask (little-endian) where s[i] > t, for i < n; n is a multiple of 8.
TEXT ·aboveMaskAVX2(SB), NOSPLIT, $0-32
	MOVQ s+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS t+16(FP), Y15
	MOVQ mask+24(FP), DI
	SHRQ $3, CX
	JZ   done

loop:
	VCMPPS    $0x11, (SI), Y15, Y0
	VMOVMSKPS Y0, AX
	MOVB      AX, (DI)
	ADDQ      $32, SI
	INCQ      DI
	DECQ      CX
	JNZ       loop

done:
	VZEROUPPER
	RET
