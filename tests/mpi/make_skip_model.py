# Writes skip_two_outputs.onnx for run_matches.sh: a small FP32 MLP on the 64 digits features with
# a skip connection (r1 feeds the Add three nodes later) and two graph outputs (y, and r1 from the
# middle), so that cut into 3 or 4 pipeline stages some tensors must pass through a rank that
# neither makes nor reads them. Run with /usr/bin/python3 (onnx, numpy); fixed seed.
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)


def weight(name, shape):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name)


inits = [weight('W1', [64, 32]), weight('b1', [32]), weight('W2', [32, 32]), weight('b2', [32]),
         weight('W3', [32, 32]), weight('b3', [32]), weight('W4', [32, 10]), weight('b4', [10])]
nodes = [
    helper.make_node('Gemm', ['x', 'W1', 'b1'], ['g1'], name='g1'),
    helper.make_node('Relu', ['g1'], ['r1'], name='r1'),
    helper.make_node('Gemm', ['r1', 'W2', 'b2'], ['g2'], name='g2'),
    helper.make_node('Relu', ['g2'], ['r2'], name='r2'),
    helper.make_node('Gemm', ['r2', 'W3', 'b3'], ['g3'], name='g3'),
    helper.make_node('Add', ['g3', 'r1'], ['s'], name='skip'),
    helper.make_node('Gemm', ['s', 'W4', 'b4'], ['y'], name='g4'),
]
graph = helper.make_graph(nodes, 'skip_two_outputs', [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 64])],
                          [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['N', 10]),
                           helper.make_tensor_value_info('r1', TensorProto.FLOAT, ['N', 32])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
onnx.checker.check_model(model)
onnx.save(model, __file__.replace('make_skip_model.py', 'skip_two_outputs.onnx'))
