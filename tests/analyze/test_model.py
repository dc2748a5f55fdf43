"""The flatbuffer reader on real converter output, and on files that are not models."""

import numpy as np
import pytest

from edgekit.analyze import ModelFormatError, read_model
from edgekit.runtime import find_runtime


def test_reads_ops_tensors_and_quantisation(mobilenet_int8):
    model = read_model(mobilenet_int8)
    assert len(model.subgraphs) == 1 and model.signatures == ("serving_default",)
    opcodes = [op.opcode for op in model.ops]
    assert opcodes.count("DEPTHWISE_CONV_2D") == 17 and "CONV_2D" in opcodes and opcodes[-1] == "QUANTIZE"
    inp = model.main.tensors[model.main.inputs[0]]
    assert inp.dtype == "UINT8" and inp.shape == (1, 32, 32, 3) and not inp.dynamic
    # int8 conv kernels are quantised per output channel: one scale per channel.
    conv = next(op for op in model.ops if op.opcode == "CONV_2D")
    kernel = model.tensor(conv, conv.inputs[1])
    assert kernel.dtype == "INT8" and kernel.quantization.per_channel
    assert len(kernel.quantization.scales) == kernel.shape[0]
    assert conv.options["padding"] in ("SAME", "VALID") and "strideH" in conv.options


def test_agrees_with_the_interpreter(mobilenet_int8):
    from ai_edge_litert.interpreter import OpResolverType

    model = read_model(mobilenet_int8)
    interpreter = find_runtime().interpreter(
        model_path=mobilenet_int8, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    assert [d["op_name"] for d in interpreter._get_ops_details()] == [op.opcode for op in model.ops]
    # With its default delegates, the same interpreter lists DELEGATE nodes after
    # allocation: the op list the flatbuffer reader gives needs no such care.
    default = find_runtime().interpreter(model_path=mobilenet_int8)
    default.allocate_tensors()
    assert "DELEGATE" in {d["op_name"] for d in default._get_ops_details()}
    # The interpreter appends its own scratch tensors after the model's.
    details = interpreter.get_tensor_details()[: len(model.main.tensors)]
    assert [d["name"] for d in details] == [t.name for t in model.main.tensors]
    assert [tuple(d["shape"]) for d in details] == [t.shape for t in model.main.tensors]


def test_parameter_bytes_and_macs_are_counted(mobilenet_float32, mobilenet_int8):
    f32, i8 = read_model(mobilenet_float32), read_model(mobilenet_int8)
    # Quantisation adds a few constants (per-op int32 biases); the weights are the same.
    assert f32.parameter_count == pytest.approx(i8.parameter_count, rel=0.02)
    # int8 weights are a quarter of float32 (int32 biases keep the ratio above 1/4).
    assert 0.25 < i8.parameter_bytes / f32.parameter_bytes < 0.4
    conv = next(op for op in f32.ops if op.opcode == "CONV_2D")
    out, kernel = f32.tensor(conv, conv.outputs[0]), f32.tensor(conv, conv.inputs[1])
    assert conv.macs == int(np.prod(out.shape)) * int(np.prod(kernel.shape[1:]))
    assert f32.estimated_macs == i8.estimated_macs > 0


def test_dynamic_batch_is_visible(dynamic_batch_int8):
    inp = read_model(dynamic_batch_int8).main.tensors[0]
    assert inp.dynamic and inp.shape_signature[0] == -1


def test_flex_and_control_flow_models_are_read(flex_model, resource_variable_model):
    flex = read_model(flex_model).ops[0]
    assert flex.custom and flex.opcode == "FlexBincount"
    assert len(read_model(resource_variable_model).subgraphs) == 2


@pytest.mark.parametrize("case", ["empty", "text", "random", "truncated", "identifier_only", "missing", "folder"])
def test_unreadable_inputs_raise_one_line_errors(tmp_path, mobilenet_int8, case):
    path = tmp_path / "bad.tflite"
    good = mobilenet_int8.read_bytes()
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("hello, I am not a model")
    elif case == "random":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif case == "truncated":
        path.write_bytes(good[: len(good) // 3])
    elif case == "identifier_only":
        path.write_bytes(good[:8] + np.random.default_rng(1).bytes(400))
    elif case == "missing":
        path = tmp_path / "absent.tflite"
    elif case == "folder":
        path = tmp_path
    with pytest.raises(ModelFormatError) as err:
        read_model(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message


def test_a_buffer_shared_by_two_tensors_is_counted_once():
    """Two fully connected ops whose kernels are two tensors on one buffer, as the
    converter writes for identical constants: the file holds those bytes once."""
    import copy

    import flatbuffers

    from edgekit._tf import keras_module
    from edgekit.conversion import to_tflite
    from edgekit.flatbuffer import schema
    from edgekit.targets import ConvertSettings

    keras = keras_module()
    inputs = keras.Input((8,))
    first, second = keras.layers.Dense(8, use_bias=False), keras.layers.Dense(8, use_bias=False)
    model = keras.Model(inputs, second(keras.activations.relu(first(inputs))))
    kernel = np.random.default_rng(0).normal(size=(8, 8)).astype(np.float32)
    first.set_weights([kernel])
    second.set_weights([kernel])
    original = to_tflite(model, ConvertSettings(), batch_size=1)

    # Give the second op its own tensor on the same buffer.
    s = schema()
    tree = s.ModelT.InitFromObj(s.Model.GetRootAsModel(original, 0))
    graph = tree.subgraphs[0]
    const = next(i for i, t in enumerate(graph.tensors) if t.buffer and tree.buffers[t.buffer].data is not None)
    twin = copy.deepcopy(graph.tensors[const])
    twin.name = b"kernel_twin"
    graph.tensors.append(twin)
    users = [op for op in graph.operators if const in list(op.inputs)]
    assert len(users) == 2
    users[1].inputs = [len(graph.tensors) - 1 if i == const else i for i in users[1].inputs]
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    shared = bytes(builder.Output())

    info = read_model(shared)
    constants = [t for t in info.main.tensors if t.is_constant]
    assert len(constants) == 2 and constants[0].buffer == constants[1].buffer
    assert info.parameter_bytes == kernel.nbytes == read_model(original).parameter_bytes

    def run(data):
        interpreter = find_runtime().interpreter(model_content=data)
        interpreter.allocate_tensors()
        x = np.linspace(-1, 1, 8, dtype=np.float32)[None]
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    assert np.array_equal(run(shared), run(original))
