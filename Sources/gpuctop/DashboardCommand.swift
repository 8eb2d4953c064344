// `gpuctop` with no command: the ncurses dashboard.
import Glibc

enum DashboardCommand {
    static func run(_ options: Options) -> Int32 {
        printError("the dashboard is not built yet; use 'gpuctop snapshot' (see gpuctop --help)")
        return 2
    }
}
