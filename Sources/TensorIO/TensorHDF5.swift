// Tensors to and from HDF5 datasets, with their dtype.
import TensorCore

extension HDF5Group {
    /// Writes `tensor` as a dataset of its own dtype and shape.
    @discardableResult
    public func write(_ name: String, tensor: Tensor, options: HDF5DatasetOptions = .contiguous) throws(HDF5Error) -> HDF5Dataset {
        switch tensor.dtype {
        case .float32: try write(name, tensor.scalars(as: Float.self), shape: tensor.shape, options: options)
        case .float64: try write(name, tensor.scalars(as: Double.self), shape: tensor.shape, options: options)
        case .int32: try write(name, tensor.scalars(as: Int32.self), shape: tensor.shape, options: options)
        case .int64: try write(name, tensor.scalars(as: Int64.self), shape: tensor.shape, options: options)
        case .bool: try write(name, tensor.scalars(as: Bool.self), shape: tensor.shape, options: options)
        }
    }
}

extension HDF5Dataset {
    /// Reads the dataset as a tensor: float32/float64/int32/int64/bool keep their dtype, other
    /// integers widen to int64.
    public func readTensor() throws(HDF5Error) -> Tensor {
        let shape = try self.shape
        switch try dtype {
        case .float32: return Tensor(try read(as: Float.self), shape: shape)
        case .float64: return Tensor(try read(as: Double.self), shape: shape)
        case .int32: return Tensor(try read(as: Int32.self), shape: shape)
        case .bool: return Tensor(try read(as: Bool.self), shape: shape)
        case .int8, .int16, .int64, .uint8, .uint16, .uint32: return Tensor(try read(as: Int64.self), shape: shape)
        case let other:
            throw HDF5Error(.typeMismatch, file: file.path, object: path, operation: "read as a tensor",
                            messages: ["dataset holds \(other)"])
        }
    }

    /// Reads a block as a tensor.
    public func readTensor(offset: [Int], count: [Int]) throws(HDF5Error) -> Tensor {
        switch try dtype {
        case .float32: return Tensor(try read(as: Float.self, offset: offset, count: count), shape: count)
        case .float64: return Tensor(try read(as: Double.self, offset: offset, count: count), shape: count)
        case .int32: return Tensor(try read(as: Int32.self, offset: offset, count: count), shape: count)
        case .bool: return Tensor(try read(as: Bool.self, offset: offset, count: count), shape: count)
        default: return Tensor(try read(as: Int64.self, offset: offset, count: count), shape: count)
        }
    }
}
