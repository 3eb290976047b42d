// Every HDF5 failure becomes a thrown `HDF5Error` naming the file, the object and HDF5's own
// message. HDF5's automatic error printing is switched off on every call (it is a per-thread
// setting in thread-safe builds), so nothing reaches stderr behind the caller's back.
import CHDF5
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A failure reading or writing an HDF5 file.
public struct HDF5Error: Error, LocalizedError, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case fileNotFound = "no such file"
        case notHDF5 = "not an HDF5 file"
        case libraryCall = "HDF5 call failed"
        case objectNotFound = "no such object"
        case typeMismatch = "type mismatch"
        case shapeMismatch = "shape mismatch"
        case invalidArgument = "invalid argument"
    }

    public let kind: Kind
    /// The file's path as the caller gave it.
    public let file: String
    /// The object inside the file (`/group/dataset`), when there is one.
    public let object: String?
    /// What we were doing, e.g. "open dataset" or "read hyperslab [0..<4, 0..<8]".
    public let operation: String
    /// HDF5's own error stack, outermost first, or our explanation.
    public let messages: [String]

    public init(_ kind: Kind, file: String, object: String? = nil, operation: String, messages: [String] = []) {
        self.kind = kind
        self.file = file
        self.object = object
        self.operation = operation
        self.messages = messages
    }

    public var description: String {
        var text = "\(file)"
        if let object { text += " \(object)" }
        text += ": cannot \(operation)"
        if kind != .libraryCall { text += " (\(kind.rawValue))" }
        if let system = messages.lazy.compactMap(Self.systemCause).first {
            // A failed write or read below HDF5 (a full disk, an I/O error): the system's words,
            // not the dozen layers of HDF5's stack that passed them up.
            text += ": " + system
        } else if !messages.isEmpty {
            text += ": " + messages.joined(separator: ": ")
        }
        return text.escapingControlCharacters
    }

    /// "No space left on device (errno 28)" from HDF5's file-driver message, which carries the
    /// system error as "errno = 28, error message = 'No space left on device'".
    static func systemCause(_ message: String) -> String? {
        guard let errnoRange = message.range(of: "errno = "), let quoteStart = message.range(of: "error message = '", range: errnoRange.upperBound..<message.endIndex),
              let quoteEnd = message[quoteStart.upperBound...].firstIndex(of: "'") else { return nil }
        let number = message[errnoRange.upperBound...].prefix { $0.isNumber }
        return "\(message[quoteStart.upperBound..<quoteEnd]) (errno \(number))"
    }

    public var errorDescription: String? { description }
}

/// Serialises calls into HDF5 and collects its error stack after a failure.
enum HDF5Library {
    private static let lock = Mutex<Void>(())

    /// HDF5 closes files still open from an atexit handler, and after a write that failed (a full
    /// disk) that handler crashes in H5F__close_cb, turning a clean error exit into a segfault.
    /// Every file SciZoo writes is closed explicitly before it is renamed into place (and its
    /// temporary removed when writing fails), so the handler is switched off before the first call.
    private static let withoutExitHandler: Void = { _ = H5dont_atexit() }()

    /// Runs one HDF5 call; a negative result throws with HDF5's error stack.
    @discardableResult
    static func call<R: BinaryInteger>(
        _ operation: @autoclosure () -> String, file: String, object: String?,
        _ body: () -> R
    ) throws(HDF5Error) -> R {
        _ = withoutExitHandler
        let (result, messages): (R, [String]) = lock.withLock { _ in
            silenceAutomaticPrinting()
            H5Eclear2(scizoo_H5E_DEFAULT())
            let result = body()
            return (result, result < 0 ? collectStack() : [])
        }
        if result < 0 {
            throw HDF5Error(.libraryCall, file: file, object: object, operation: operation(), messages: messages)
        }
        return result
    }

    /// Runs HDF5 calls whose failure is not an error (probes such as H5Lexists, closes in deinit).
    static func quietly<R>(_ body: () -> R) -> R {
        _ = withoutExitHandler
        return lock.withLock { _ in
            silenceAutomaticPrinting()
            let result = body()
            H5Eclear2(scizoo_H5E_DEFAULT())
            return result
        }
    }

    private static func silenceAutomaticPrinting() {
        H5Eset_auto2(scizoo_H5E_DEFAULT(), nil, nil)
    }

    private final class StackBox { var frames: [String] = [] }

    /// The current thread's error stack, outermost call first, without repeats.
    private static func collectStack() -> [String] {
        let box = StackBox()
        let unmanaged = Unmanaged.passRetained(box)
        defer { unmanaged.release() }
        H5Ewalk2(scizoo_H5E_DEFAULT(), H5E_WALK_UPWARD, { _, frame, context in
            guard let frame, let context else { return 0 }
            let box = Unmanaged<StackBox>.fromOpaque(context).takeUnretainedValue()
            if let desc = frame.pointee.desc {
                let text = String(cString: desc)
                if !text.isEmpty { box.frames.append(text) }
            }
            return 0
        }, unmanaged.toOpaque())
        H5Eclear2(scizoo_H5E_DEFAULT())
        // Upward walk gives innermost first; we report the outermost first.
        var seen = Set<String>()
        return box.frames.reversed().filter { seen.insert($0).inserted }
    }

    /// HDF5's version as "major.minor.release".
    static var version: String {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        _ = quietly { H5get_libversion(&major, &minor, &release) }
        return "\(major).\(minor).\(release)"
    }
}

/// The HDF5 library this process linked against.
public enum HDF5Info {
    public static var libraryVersion: String { HDF5Library.version }
}

/// `H5P_DEFAULT` imports as a 32-bit literal; HDF5 1.10 takes 64-bit property-list ids.
let defaultProperties = hid_t(H5P_DEFAULT)
