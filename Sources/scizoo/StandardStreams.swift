#if canImport(Glibc)
import Glibc
#endif

enum FileHandleWriter {
    static func write(_ string: String) {
        _ = string.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}
