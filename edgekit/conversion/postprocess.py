"""A detector's box decoding and non-maximum suppression as TFLite's ``TFLite_Detection_PostProcess``.

The op has no TensorFlow counterpart. The MLIR converter replaces a ``tf.function``
whose ``experimental_implements`` names it with the op, its attributes taken from that
annotation (tensorflow/compiler/mlir/lite/utils/nms_utils.cc); the function's own body is
never run. Coral's detection models, pycoral's ``detect.get_objects`` and MediaPipe's
ObjectDetector read its four outputs: boxes, classes, scores and the count.

The converter dequantizes the op's two inputs first, and the Edge TPU compiler leaves a
DEQUANTIZE on the CPU ("Operation is working on an unsupported data type",
google-coral/edgetpu#490 and #560). The op's kernel reads uint8 inputs itself (not int8:
tensorflow/lite/kernels/detection_postprocess.cc, DequantizeBoxEncodings and
DequantizeClassPredictions), so :func:`fuse_quantized_inputs` turns each of those
DEQUANTIZE ops into a QUANTIZE from int8 to uint8 with the same scale, an op the Edge TPU
runs: every op before the post-processing then runs there, and that op alone on the host,
as in Coral's own detectors. The boxes and the scores stay two tensors, each with its own
quantisation, so 0-1 scores never share a scale with box offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from edgekit.flatbuffer import enum_names, pack, unpack
from edgekit.models.anchors import BOX_SCALES

OP_NAME = "TFLite_Detection_PostProcess"
# The op's outputs in its own order, as clients index them.
OUTPUTS = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")


@dataclass(frozen=True)
class PostProcess:
    classes: int
    max_detections: int = 25
    score_threshold: float = 0.05
    iou_threshold: float = 0.5

    def annotation(self) -> str:
        """The ``experimental_implements`` text: a NameAttrList of the op's attributes."""
        y, x, h, w = BOX_SCALES
        attrs = [("max_detections", "i", self.max_detections), ("max_classes_per_detection", "i", 1),
                 ("detections_per_class", "i", self.max_detections), ("use_regular_nms", "b", "false"),
                 ("nms_score_threshold", "f", self.score_threshold), ("nms_iou_threshold", "f", self.iou_threshold),
                 ("y_scale", "f", y), ("x_scale", "f", x), ("h_scale", "f", h), ("w_scale", "f", w),
                 ("num_classes", "i", self.classes)]
        return " ".join([f'name: "{OP_NAME}"'] + [f'attr {{ key: "{k}" value {{ {t}: {v} }} }}' for k, t, v in attrs])

    def function(self, anchors: np.ndarray) -> Callable[[Any, Any], dict]:
        """(box encodings, class scores) -> the op's four outputs by name, for a serving function."""
        from edgekit._tf import tensorflow

        tf = tensorflow()
        anchor_tensor = np.asarray(anchors, np.float32)

        @tf.function(experimental_implements=self.annotation())
        def post_process(box_encodings, class_predictions, anchors):
            # A stand-in the converter replaces with the op; its values are never used.
            return tuple(tf.constant(0.0, name=name) for name in OUTPUTS)

        def apply(boxes: Any, scores: Any) -> dict:
            return dict(zip(OUTPUTS, post_process(boxes, scores, tf.constant(anchor_tensor))))

        return apply


def fuse_quantized_inputs(data: bytes) -> bytes:
    """The .tflite with each DEQUANTIZE that feeds only the post-process op turned into an
    int8 -> uint8 QUANTIZE (the op reads the uint8 tensor), and the model's outputs in the
    op's order."""
    model = unpack(data)
    builtin = {v: k for k, v in enum_names("BuiltinOperator").items()}
    types = {v: k for k, v in enum_names("TensorType").items()}
    codes = model.operatorCodes
    post = {i for i, c in enumerate(codes) if c.customCode and c.customCode.decode() == OP_NAME}
    dequantize = {i for i, c in enumerate(codes) if max(c.builtinCode, c.deprecatedBuiltinCode)
                  == builtin["DEQUANTIZE"]}
    for graph in model.subgraphs:
        ops = graph.operators
        post_ops = [op for op in ops if op.opcodeIndex in post]
        if not post_ops:
            continue
        consumers: dict[int, int] = {}
        for op in ops:
            for t in op.inputs:
                consumers[int(t)] = consumers.get(int(t), 0) + 1
        for op in post_ops:
            for slot in (0, 1):
                tensor = int(op.inputs[slot])
                producer = next((p for p in ops if tensor in [int(t) for t in p.outputs]), None)
                if producer is None or producer.opcodeIndex not in dequantize or consumers[tensor] != 1:
                    continue
                source = graph.tensors[int(producer.inputs[0])]
                if source.type != types["INT8"]:
                    continue
                producer.opcodeIndex = _opcode(model, builtin["QUANTIZE"])
                producer.builtinOptionsType = 0
                producer.builtinOptions = None
                target = graph.tensors[tensor]
                target.type = types["UINT8"]
                target.quantization = _shifted(source.quantization)
                if slot == 0:
                    # With uint8 box encodings the kernel reads the anchors as uint8 too.
                    _anchors_to_uint8(model, graph.tensors[int(op.inputs[2])], types)
            outputs = [int(t) for t in op.outputs]
            graph.outputs = np.asarray(outputs + [int(t) for t in graph.outputs if int(t) not in outputs],
                                       dtype=np.int32)
            _order_signature_outputs(model, outputs)
    return pack(model)


def _opcode(model: Any, code: int) -> int:
    """The index of builtin ``code`` in the model's operator codes, added if missing."""
    from edgekit.flatbuffer import schema

    for i, c in enumerate(model.operatorCodes):
        if max(c.builtinCode, c.deprecatedBuiltinCode) == code and not c.customCode:
            return i
    entry = schema().OperatorCodeT()
    entry.builtinCode, entry.deprecatedBuiltinCode, entry.version = code, min(code, 127), 1
    model.operatorCodes.append(entry)
    return len(model.operatorCodes) - 1


def _anchors_to_uint8(model: Any, tensor: Any, types: dict) -> None:
    """The float32 anchors constant as uint8 with one scale: 1/255 of the largest value, a
    few thousandths of the image, far below a pixel at the sizes edgekit trains."""
    from edgekit.flatbuffer import schema

    if tensor.type != types["FLOAT32"]:
        return
    buffer = model.buffers[tensor.buffer]
    values = np.frombuffer(bytes(bytearray(buffer.data)), dtype=np.float32)
    scale = float(values.max()) / 255.0
    buffer.data = np.clip(np.round(values / scale), 0, 255).astype(np.uint8)
    tensor.type = types["UINT8"]
    quantization = schema().QuantizationParametersT()
    quantization.scale, quantization.zeroPoint = [scale], [0]
    tensor.quantization = quantization


def _shifted(quantization: Any) -> Any:
    """int8 quantisation parameters as uint8's: the same scale, the zero point moved by 128."""
    import copy

    shifted = copy.deepcopy(quantization)
    shifted.zeroPoint = np.asarray(quantization.zeroPoint, dtype=np.int64) + 128
    return shifted


def _order_signature_outputs(model: Any, outputs: list[int]) -> None:
    order = {tensor: i for i, tensor in enumerate(outputs)}
    for signature in model.signatureDefs or []:
        signature.outputs = sorted(signature.outputs, key=lambda t: order.get(int(t.tensorIndex), len(order)))
