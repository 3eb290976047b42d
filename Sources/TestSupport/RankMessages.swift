// Messages collected from the ranks of an in-process world (each rank runs on its own thread).
import Foundation

public final class RankMessages: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String] = []

    public init() {}

    public func add(_ new: [String]) { lock.lock(); values += new; lock.unlock() }
    public var all: [String] { lock.lock(); defer { lock.unlock() }; return values }
}
