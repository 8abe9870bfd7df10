// Package train trains an nn.Model's weights in place: softmax cross-entropy on the output
// layer's logits, Adam, shuffled minibatches, learning-rate schedules and augmentation. It
// serves the demo's BadNet and fine-tuning after pruning (Options.Mask holds pruned channels
// at zero; Options.Freeze leaves chosen weights as they are).
//
// The engine is native, in the manner of host/'s forward engine: C kernels (engine.c,
// kernels.h) compiled for AVX-512, AVX2+FMA and a portable 4-wide build, chosen at run time
// (GOODNET_CPU_KERNEL=portable|avx2|avx512 forces one), driven from Go (step.go). A minibatch
// is cut into blocks of 16 images, one image per SIMD lane, so every layer shape vectorises
// without padding and Flatten is free; worker goroutines take whole blocks as they come free:
//
//   - forward: register-tiled convolutions and dense layers (a tile of output pixels ×
//     output channels in registers) that keep every layer's output for the backward pass;
//   - backward: the softmax cross-entropy gradient; max-pool routes each gradient to its
//     window's first maximum (applying the ReLU before it); a Conv2D's input gradient is the
//     same register-tiled kernel on the zero-framed output gradient with the flipped,
//     transposed kernel; its weight gradient a tile of kernel entries × output channels
//     accumulated lane by lane over the pixels; a Dense weight gradient a GEMM over the lanes;
//   - Adam (adam.go) over one flat vector of every kernel and bias, summing the blocks'
//     gradients in block order (the same seed gives the same weights bit for bit, whatever
//     the number of workers) and skipping frozen and masked parameters.
//
// Weights stay in Keras' layouts (Conv2D (kh, kw, cin, cout), Dense (in, out)) throughout, so
// the trained weights are the model's without conversion; the tests compare every layer's
// forward output with nn/ref and every gradient with float64 finite differences of nn/ref's
// loss, for each kernel variant.
package train
