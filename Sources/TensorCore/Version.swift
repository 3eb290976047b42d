public enum TensorCoreVersion { public static let string = "0.1.0" }
