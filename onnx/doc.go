// Package onnx reads ONNX models into nn.Model and writes a pruned model back as ONNX: the
// models that PyTorch's torch.onnx.export writes (opsets 11–17) for the nets the backdoor
// benchmarks train (DeepID, VGG, PreAct-ResNet, ...).
//
// The protobuf is parsed by google.golang.org/protobuf with the types generated from
// onnx.proto (goodnet/onnx/pb). A file is recognised by its content (Sniff), not its name.
//
// # What is read
//
// One graph input, float, N×C×H×W (or N×F); one graph output. The operators, with the
// attributes torch.onnx.export writes (others are errors naming the node, its op and why):
//
//	Conv                       2-D, group 1, dilations 1, pads (may be asymmetric) or auto_pad, a bias or none
//	MaxPool, AveragePool       2-D, pads or auto_pad, ceil_mode 0 (or 1 where it changes nothing),
//	                           dilations 1; AveragePool's count_include_pad
//	GlobalAveragePool          → GlobalAveragePooling2D keeping (1, 1, C)
//	BatchNormalization         inference form (training_mode 0): gamma, beta, mean, var, epsilon
//	Relu, LeakyRelu            activations
//	Add                        of two computed tensors of one shape; or a constant bias after MatMul
//	Gemm, MatMul (+ Add)       dense layers on N×F (transA 0; transB 0 or 1; alpha, beta)
//	Flatten (axis 1), Reshape  to N×F only; Squeeze of N×C×1×1
//	Transpose                  (0, 2, 3, 1) before a flatten (the channels-last flatten of Keras nets)
//	Concat                     along channels (or features)
//	Pad                        constant zeros on the rows and columns → ZeroPadding2D
//	Identity, Dropout          the identity
//	Softmax, LogSoftmax        on the output only (goodnet works on logits: the argmax is the same)
//	Shape, Gather, Unsqueeze,  the small integer computations PyTorch emits for x.view(x.size(0), -1)
//	Concat, Constant
//
// Initializers are float32 (raw_data or float_data) or float64 (converted to float32); shape
// operands int64 or int32. External data, other types, NaN or Inf weights, dimensions that
// do not match the data, cycles, a tensor produced twice and a name that nothing produces are
// errors naming the tensor or node.
//
// # NCHW onto NHWC
//
// ONNX tensors are NCHW; nn is channels-last, as Keras. The mapping is exact: a Conv weight
// (O, I, kh, kw) becomes the kernel (kh, kw, I, O); ONNX pads (top, left, bottom, right) the
// layer's explicit Pad; a Flatten of N×C×H×W flattens in (c, h, w) order while nn's Flatten
// is the identity on (h, w, c) memory, so the rows of the Gemm/MatMul weight that reads it are
// permuted into nn's order (nothing to do after GlobalAveragePool, where H = W = 1, or after a
// Transpose (0, 2, 3, 1), whose flatten is already channels-last). Layers are named after
// their nodes (or their first output when a node has no name).
//
// # Writing
//
// Save writes a model read by Load back as ONNX: the original graph and every tensor as it
// was, except the initializers whose values the model's weights changed (pruning), each
// element mapped back through the same layout (an unchanged element keeps its original bytes).
package onnx
