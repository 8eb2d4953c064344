// The packages as an operator meets them: scripts/package.sh on the release binary
// (GPUCTOP_RELEASE_BIN, built by scripts/test.sh), the .deb installed into this machine with
// dpkg, its binary run, its man page read with man, its completions loaded by a real
// interactive bash and zsh in a terminal (tmux) and used with the tab key, its systemd unit
// checked, then removed again; and the tarball unpacked and used.
//
// Installing changes this machine: the package is removed at the end of the test whatever
// happens (a gpuctop package installed before is replaced and then removed too).
import Foundation
import TestSupport
import XCTest

/// The release binary scripts/test.sh builds, and what it says its version is.
enum ReleaseBinary {
    static func path() throws -> String {
        guard let bin = ProcessInfo.processInfo.environment["GPUCTOP_RELEASE_BIN"], !bin.isEmpty else {
            throw XCTSkip("GPUCTOP_RELEASE_BIN is unset: scripts/test.sh builds the release binary and sets it")
        }
        return bin
    }

    static func version() throws -> String {
        let r = try Run.command([try path(), "--version"])
        let words = r.stdout.split(separator: " ")
        guard r.status == 0, words.count == 2, words[0] == "gpuctop" else {
            throw TestFailure("unexpected --version: \(r.stdout) \(r.stderr)")
        }
        return words[1].trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

final class PackageInstallTests: XCTestCase {
    /// What package.sh made, once for the whole class (it takes half a minute with lintian).
    private static var made: (deb: String, tarball: String, log: String)?

    private func packages() throws -> (deb: String, tarball: String, log: String) {
        if let made = Self.made { return made }
        let out = TestEnv.temporaryDirectory("dist")
        let r = try Run.command([TestEnv.repoRoot.appendingPathComponent("scripts/package.sh").path,
                                 "--binary", try ReleaseBinary.path(), "--out", out.path], timeout: 300)
        guard r.status == 0 else { throw TestFailure("package.sh failed (\(r.status)):\n\(r.stdout)\n\(r.stderr)") }
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let version = try ReleaseBinary.version()
        let deb = out.appendingPathComponent("gpuctop_\(version)_amd64.deb").path
        let tarball = out.appendingPathComponent("gpuctop-\(version)-linux-x86_64.tar.gz").path
        XCTAssertEqual(lines, [deb, tarball], "package.sh names what it wrote, with the binary's version")
        Self.made = (deb, tarball, r.stderr)
        return Self.made!
    }

    private var installed = false

    override func tearDown() {
        if installed { _ = try? dpkg(["--purge", "gpuctop"]) }
        installed = false
        containers.forEach { _ = try? Docker.run(["rm", "-f", $0]) }
        containers = []
        super.tearDown()
    }

    private var containers: [String] = []

    /// dpkg, waiting for the lock while another apt or dpkg on this machine holds it.
    @discardableResult
    private func dpkg(_ args: [String]) throws -> RunResult {
        let deadline = Date().addingTimeInterval(120)
        while true {
            let r = try Run.command(["/usr/bin/dpkg"] + args, environment: ["DEBIAN_FRONTEND": "noninteractive"], timeout: 120)
            if r.status == 0 || !r.stderr.contains("lock") || Date() > deadline { return r }
            sleep(2)
        }
    }

    func testTheDebInstallsRunsCompletesAndRemoves() throws {
        let made = try packages()
        let version = try ReleaseBinary.version()

        // lintian ran and found no error (package.sh fails on one; it says how many).
        XCTAssertTrue(made.log.contains("lintian: 0 errors,"), "lintian did not run or found errors:\n\(made.log)")

        // What the package says of itself.
        let field = { (name: String) throws -> String in
            try Run.command(["/usr/bin/dpkg-deb", "-f", made.deb, name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertEqual(try field("Package"), "gpuctop")
        XCTAssertEqual(try field("Version"), version)
        let depends = try field("Depends")
        for library in ["libc6", "libncursesw6"] { XCTAssertTrue(depends.contains(library), depends) }
        let listing = try Run.command(["/usr/bin/dpkg-deb", "-c", made.deb]).stdout
        for path in ["./usr/bin/gpuctop", "./usr/share/man/man1/gpuctop.1.gz", "./usr/share/bash-completion/completions/gpuctop",
                     "./usr/share/zsh/vendor-completions/_gpuctop", "./lib/systemd/system/gpuctop-export.service",
                     "./usr/share/doc/gpuctop/copyright", "./usr/share/doc/gpuctop/changelog.gz"] {
            XCTAssertTrue(listing.contains(" \(path)\n"), "\(path) not in the package:\n\(listing)")
        }
        // Disabled by default: no maintainer script enables the unit.
        let control = TestEnv.temporaryDirectory("deb-control")
        defer { try? FileManager.default.removeItem(at: control) }
        XCTAssertEqual(try Run.command(["/usr/bin/dpkg-deb", "-e", made.deb, control.path]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: control.appendingPathComponent("postinst").path))

        // Installed with dpkg.
        let install = try dpkg(["-i", made.deb])
        installed = true
        XCTAssertEqual(install.status, 0, install.stderr)
        let run = try Run.command(["/usr/bin/gpuctop", "--version"])
        XCTAssertEqual(run.stdout, "gpuctop \(version)\n")
        let noDriver = try Run.command(["/usr/bin/gpuctop", "snapshot", "--nvml", "/nonexistent/libnvidia-ml.so.1",
                                        "--docker-host", "unix:///nonexistent.sock"])
        XCTAssertEqual(noDriver.status, 0, "the installed binary starts without a driver: \(noDriver.stderr)")
        XCTAssertTrue(noDriver.stdout.contains("nvml"), noDriver.stdout)

        // man finds the installed page by name and renders it.
        let env = ["MANPAGER": "cat", "MANWIDTH": "100", "LC_ALL": "C.UTF-8"]
        XCTAssertEqual(try Run.command(["/usr/bin/man", "-w", "gpuctop"], environment: env).stdout, "/usr/share/man/man1/gpuctop.1.gz\n")
        let man = try Run.command(["/usr/bin/man", "--warnings", "gpuctop"], environment: env)
        XCTAssertEqual(man.status, 0, man.stderr)
        XCTAssertEqual(man.stderr, "", "man warnings")
        for text in ["GPUCTOP(1)", "SYNOPSIS", "gpuctop snapshot [--json] [--energy]", "--read-only", "KEYS", "gpuctop \(version)"] {
            XCTAssertTrue(man.stdout.contains(text), "'\(text)' not in the rendered page:\n\(man.stdout)")
        }

        // The unit verifies (its ExecStart and man: documentation now exist) and is not enabled.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            let verify = try Run.command(["/usr/bin/systemd-analyze", "verify", "/lib/systemd/system/gpuctop-export.service"])
            XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/etc/systemd/system/multi-user.target.wants/gpuctop-export.service"))

        try checkBashCompletesWithTab()
        try checkZshCompletesWithTab()

        // Removed with dpkg: nothing of it left.
        let remove = try dpkg(["-r", "gpuctop"])
        XCTAssertEqual(remove.status, 0, remove.stderr)
        installed = false
        for path in ["/usr/bin/gpuctop", "/usr/share/man/man1/gpuctop.1.gz", "/usr/share/bash-completion/completions/gpuctop",
                     "/usr/share/zsh/vendor-completions/_gpuctop", "/lib/systemd/system/gpuctop-export.service"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), "\(path) left after dpkg -r")
        }
        // Its postrm (systemd's daemon-reload) keeps it known until purged.
        XCTAssertEqual(try dpkg(["--purge", "gpuctop"]).status, 0)
        XCTAssertNotEqual(try Run.command(["/usr/bin/dpkg", "-s", "gpuctop"]).status, 0, "dpkg still knows gpuctop")
    }

    /// An interactive bash in a terminal, bash-completion's loader finding the installed
    /// script on the first tab, as on an operator's machine.
    private func checkBashCompletesWithTab() throws {
        let dir = TestEnv.temporaryDirectory("bashrc")
        defer { try? FileManager.default.removeItem(at: dir) }
        let rc = dir.appendingPathComponent("rc").path
        try "source /usr/share/bash-completion/bash_completion\nPS1='bash$ '\n".write(toFile: rc, atomically: true, encoding: .utf8)
        let host = try Docker.host()
        let name = "pkgc-\(UUID().uuidString.prefix(8).lowercased())"
        containers.append(name)
        try Docker.runContainer(name)

        let bash = try TmuxSession(command: "exec /bin/bash --noprofile --rcfile \(rc) -i", width: 160, height: 30,
                                   environment: ["PATH": "/usr/bin:/bin", "DOCKER_HOST": host, "LC_ALL": "C.UTF-8"])
        // (capture-pane drops trailing blanks: the space after a completed word is not seen.)
        try bash.waitFor("bash$")
        try bash.type("gpuctop sna")
        try bash.send("Tab")
        try bash.waitFor("bash$ gpuctop snapshot")
        try bash.send("C-u")
        try bash.type("gpuctop stop \(name.prefix(9))")
        try bash.send("Tab")
        try bash.waitFor("bash$ gpuctop stop \(name)")
        try bash.send("C-u")
        try bash.type("complete -p gpuctop")
        try bash.send("Enter")
        try bash.waitFor("complete -F _gpuctop gpuctop")
    }

    /// An interactive zsh with its completion system, finding _gpuctop in its vendor directory.
    private func checkZshCompletesWithTab() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/zsh") else {
            XCTFail("zsh is not installed (scripts/test.sh installs it)")
            return
        }
        let zsh = try TmuxSession(command: "exec /usr/bin/zsh -f -i", width: 160, height: 30,
                                  environment: ["PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"])
        try zsh.type("PS1='zsh%% '; autoload -Uz compinit && compinit -u -D && print comps=$_comps[gpuctop]")
        try zsh.send("Enter")
        try zsh.waitFor("comps=_gpuctop")
        try zsh.type("gpuctop sna")
        try zsh.send("Tab")
        try zsh.waitFor("zsh% gpuctop snapshot")
    }

    func testTheTarballHoldsTheBinaryManPageCompletionsAndReadme() throws {
        let made = try packages()
        let version = try ReleaseBinary.version()
        let top = "gpuctop-\(version)-linux-x86_64"
        let listing = try Run.command(["/bin/tar", "-tzf", made.tarball]).stdout.split(separator: "\n").map(String.init)
        var expected = ["", "gpuctop", "gpuctop.1", "README.md", "completions/", "completions/gpuctop.bash",
                        "completions/_gpuctop", "systemd/", "systemd/gpuctop-export.service"]
        let hasLicence = FileManager.default.fileExists(atPath: TestEnv.repoRoot.appendingPathComponent("LICENSE").path)
        if hasLicence { expected.append("LICENSE") }
        XCTAssertEqual(Set(listing), Set(expected.map { "\(top)/\($0)" }))

        let dir = TestEnv.temporaryDirectory("tarball")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(try Run.command(["/bin/tar", "-xzf", made.tarball, "-C", dir.path]).status, 0)
        let root = dir.appendingPathComponent(top)
        XCTAssertEqual(try Run.command([root.appendingPathComponent("gpuctop").path, "--version"]).stdout, "gpuctop \(version)\n")
        let man = try Run.command(["/usr/bin/man", "--warnings", "-l", root.appendingPathComponent("gpuctop.1").path],
                                  environment: ["MANPAGER": "cat", "LC_ALL": "C.UTF-8"])
        XCTAssertEqual(man.status, 0, man.stderr)
        XCTAssertTrue(man.stdout.contains("SYNOPSIS"))
        XCTAssertEqual(try Data(contentsOf: root.appendingPathComponent("README.md")),
                       try Data(contentsOf: TestEnv.repoRoot.appendingPathComponent("README.md")))
        // The completion file is the binary's own and loads.
        let bash = try Run.command(["/bin/bash", "--norc", "-c", "source \"$1\" && complete -p gpuctop", "bash",
                                    root.appendingPathComponent("completions/gpuctop.bash").path])
        XCTAssertEqual(bash.stdout, "complete -F _gpuctop gpuctop\n", bash.stderr)
        let ownScript = try Run.command([root.appendingPathComponent("gpuctop").path, "completion", "bash"]).stdout
        XCTAssertEqual(try String(contentsOf: root.appendingPathComponent("completions/gpuctop.bash"), encoding: .utf8), ownScript)
    }
}
