// bash and zsh completion scripts for gpuctop, rendered from what --help prints
// (HelpText): command words, every option, files and directories where an option's value
// is a FILE, PATH or DIR, the listed alternatives of a value (--signal TERM|INT|...), and
// container names where a command takes CONTAINER (asked of `gpuctop complete
// containers`, which talks to the engine the command line names). `gpuctop completion
// bash|zsh` prints them; scripts/package.sh installs them.
//
// The scripts never hand a word list to `compgen -W` (which expands what it is given:
// a container named `$(...)` would run); they compare words with a quoted prefix.

import Support

enum ShellCompletion {
    enum ValueKind: Equatable {
        case file, directory
        /// Words to offer (the alternatives a placeholder lists).
        case words([String])
        /// A value nobody can guess (a number, an address).
        case free
    }

    /// What completion needs of the help.
    struct Model {
        var commands: [(word: String, description: String)] = []
        var globalOptions: [String] = []
        var commandOptions: [(words: [String], options: [String])] = []
        var valueKinds: [(option: String, kind: ValueKind)] = []
        /// Global options whose value says where containers are (URL or DIR), passed on to
        /// `gpuctop complete containers`.
        var engineOptions: [String] = []
        /// Commands whose first argument is a container.
        var containerCommands: [String] = []
        var fileCommands: [String] = []
        /// Literal words a command takes first ("power" -> "set").
        var firstWords: [(command: String, words: [String])] = []
    }

    static func model(_ help: HelpText = .current) -> Model {
        var m = Model()
        m.globalOptions = help.tableOptions + ["-h", "--help", "-V", "--version"].filter { !help.tableOptions.contains($0) }
        for command in help.commands {
            for word in command.names { m.commands.append((word, help.shortDescription(of: word))) }
            // Each command word's own options (stop and restart take --time, kill --signal),
            // less the global ones offered anyway; words with the same list share a line.
            var byWord: [(word: String, options: [String])] = command.names.map { ($0, []) }
            for entry in command.entries {
                let words = HelpText.commandWords(in: entry.term, of: command.names)
                for option in HelpText.options(in: entry.term).flatMap(\.names) where !m.globalOptions.contains(option) {
                    for i in byWord.indices where (words.isEmpty || words.contains(byWord[i].word))
                        && !byWord[i].options.contains(option) {
                        byWord[i].options.append(option)
                    }
                }
            }
            for (word, options) in byWord where !options.isEmpty {
                if let i = m.commandOptions.firstIndex(where: { $0.options == options }) {
                    m.commandOptions[i].words.append(word)
                } else {
                    m.commandOptions.append(([word], options))
                }
            }
            let firsts = HelpText.firstPositionals(in: command.entries.map(\.term), of: command.names)
            let literals = firsts.flatMap { $0.split(separator: "|").map(String.init) }
                .filter { !HelpText.isPlaceholder($0) && $0.allSatisfy(isSafeWordCharacter) }
            for name in command.names {
                if firsts.contains(where: { $0.hasPrefix("CONTAINER") }) { m.containerCommands.append(name) }
                if firsts.contains(where: { $0.hasPrefix("FILE") }) { m.fileCommands.append(name) }
                if !literals.isEmpty { m.firstWords.append((name, literals)) }
            }
        }
        var kinds: [String: ValueKind] = [:]
        var order: [String] = []
        let terms = help.options.map(\.term) + help.commands.flatMap { $0.entries.map(\.term) }
        for term in terms {
            for option in HelpText.options(in: term) {
                guard let value = option.value else { continue }
                let kind = valueKind(value)
                for name in option.names {
                    if kinds[name] == nil { order.append(name) }
                    kinds[name] = merge(kinds[name], kind)
                }
            }
        }
        m.valueKinds = order.map { ($0, kinds[$0]!) }
        for entry in help.options {
            for option in HelpText.options(in: entry.term) {
                guard let v = option.value, v == "URL" || v == "DIR" else { continue }
                m.engineOptions += option.names
            }
        }
        return m
    }

    static func valueKind(_ placeholder: String) -> ValueKind {
        if placeholder.includes("DIR") { return .directory }
        if placeholder.includes("FILE") || placeholder.includes("PATH") { return .file }
        if placeholder.contains("|") {
            // "TERM|INT|KILL|N": the spelled-out alternatives, not the one-letter placeholder.
            let words = placeholder.split(separator: "|").map(String.init)
                .filter { $0.count > 1 && $0.allSatisfy(isSafeWordCharacter) }
            return words.isEmpty ? .free : .words(words)
        }
        return .free
    }

    static func merge(_ a: ValueKind?, _ b: ValueKind) -> ValueKind {
        switch (a, b) {
        case (nil, _): return b
        case (.file?, _), (_, .file): return .file
        case (.directory?, _), (_, .directory): return .directory
        case (.words(let x)?, .words(let y)): return .words(x + y.filter { !x.contains($0) })
        case (.words(let x)?, .free): return .words(x)
        case (.free?, _): return b
        }
    }

    /// The characters every word put into a script may hold (nothing a shell reads specially).
    static func isSafeWordCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_" || c == ".")
    }

    static func safe(_ words: [String]) -> [String] {
        words.filter { !$0.isEmpty && $0.allSatisfy(isSafeWordCharacter) }
    }

    // MARK: - bash

    static func bash(_ m: Model = model()) -> String {
        func alternatives(_ words: [String]) -> String { safe(words).joined(separator: "|") }
        let valueOptions = m.valueKinds.map(\.option)
        var s = """
        # bash completion for gpuctop. Generated by `gpuctop completion bash` from the text of
        # `gpuctop --help`; regenerate it rather than editing it.

        # The words of $1 (a fixed list) that start with the word being completed. Not compgen -W,
        # which expands its list.
        _gpuctop_offer() {
            local -a ws
            local w
            read -ra ws <<< "$1"
            for w in "${ws[@]}"; do [[ $w == "$cur"* ]] && COMPREPLY+=("$w"); done
        }

        _gpuctop() {
            local cur=${COMP_WORDS[COMP_CWORD]} prev=
            (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}
            COMPREPLY=()
            # --name=value is left to the shell.
            [[ $cur == *=* || $prev == = ]] && return 0
            # The command word, and the options that say where the containers are, from the line
            # split on blanks only (COMP_WORDS splits unix:///path at the colon).
            local -a line engine=()
            read -ra line <<< "${COMP_LINE:0:COMP_POINT}"
            [[ ${COMP_LINE:0:COMP_POINT} == *[[:blank:]] ]] && line+=("")
            local cmd= i w
            for (( i = 1; i < ${#line[@]} - 1; i++ )); do
                w=${line[i]}
                case $w in

        """
        if !m.engineOptions.isEmpty {
            s += "            \(alternatives(m.engineOptions))) engine+=(\"$w\" \"${line[i+1]}\"); (( i++ )) ;;\n"
        }
        let otherValues = valueOptions.filter { !m.engineOptions.contains($0) }
        if !otherValues.isEmpty {
            s += "            \(alternatives(otherValues))) (( i++ )) ;;\n"
        }
        s += """
                    -*) ;;
                    *) [[ -z $cmd ]] && cmd=$w ;;
                esac
            done

            case $prev in

        """
        for (option, kind) in m.valueKinds where option.allSatisfy(isSafeWordCharacter) {
            switch kind {
            case .file: s += "        \(option)) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- \"$cur\"); return 0 ;;\n"
            case .directory: s += "        \(option)) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- \"$cur\"); return 0 ;;\n"
            case .words(let words): s += "        \(option)) _gpuctop_offer \"\(safe(words).joined(separator: " "))\"; return 0 ;;\n"
            case .free: s += "        \(option)) return 0 ;;\n"
            }
        }
        s += """
            esac

            if [[ $cur == -* ]]; then
                local opts="\(safe(m.globalOptions).joined(separator: " "))"
                case $cmd in

        """
        for (words, options) in m.commandOptions {
            s += "            \(alternatives(words))) opts+=\" \(safe(options).joined(separator: " "))\" ;;\n"
        }
        s += """
                esac
                _gpuctop_offer "$opts"
                return 0
            fi

            if [[ -z $cmd ]]; then
                _gpuctop_offer "\(safe(m.commands.map(\.word)).joined(separator: " "))"
                return 0
            fi

            case $cmd in

        """
        if !m.containerCommands.isEmpty {
            s += """
                    \(alternatives(m.containerCommands)))
                        local name
                        while IFS= read -r name; do
                            [[ $name == "$cur"* ]] && COMPREPLY+=("$name")
                        done < <("${COMP_WORDS[0]}" "${engine[@]}" complete containers 2>/dev/null)
                        ;;

            """
        }
        if !m.fileCommands.isEmpty {
            s += "        \(alternatives(m.fileCommands))) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- \"$cur\") ;;\n"
        }
        for (command, words) in m.firstWords {
            // Only right after the command word.
            s += "        \(command)) [[ ${line[${#line[@]}-2]} == \(command) ]] && _gpuctop_offer \"\(safe(words).joined(separator: " "))\" ;;\n"
        }
        s += """
            esac
            return 0
        }

        complete -F _gpuctop gpuctop

        """
        return s
    }

    // MARK: - zsh

    static func zsh(_ m: Model = model()) -> String {
        func alternatives(_ words: [String]) -> String { safe(words).joined(separator: "|") }
        func quoted(_ text: String) -> String {
            "'" + text.replacingText("'", with: "'\\''") + "'"
        }
        let valueOptions = m.valueKinds.map(\.option)
        var s = """
        #compdef gpuctop
        # zsh completion for gpuctop. Generated by `gpuctop completion zsh` from the text of
        # `gpuctop --help`; regenerate it rather than editing it.

        _gpuctop() {
          local cur=$PREFIX prev=${words[CURRENT-1]} cmd= i w
          local -a engine
          engine=()
          for (( i = 2; i < CURRENT; i++ )); do
            w=${words[i]}
            case $w in

        """
        if !m.engineOptions.isEmpty {
            s += "      (\(alternatives(m.engineOptions))) engine+=(\"$w\" \"${words[i+1]}\"); (( i++ )) ;;\n"
        }
        let otherValues = valueOptions.filter { !m.engineOptions.contains($0) }
        if !otherValues.isEmpty {
            s += "      (\(alternatives(otherValues))) (( i++ )) ;;\n"
        }
        s += """
              (-*) ;;
              (*) [[ -z $cmd ]] && cmd=$w ;;
            esac
          done

          case $prev in

        """
        for (option, kind) in m.valueKinds where option.allSatisfy(isSafeWordCharacter) {
            switch kind {
            case .file: s += "    (\(option)) _files; return ;;\n"
            case .directory: s += "    (\(option)) _files -/; return ;;\n"
            case .words(let words): s += "    (\(option)) compadd -- \(safe(words).joined(separator: " ")); return ;;\n"
            case .free: s += "    (\(option)) _message 'a value'; return ;;\n"
            }
        }
        s += """
          esac

          if [[ $cur == -* ]]; then
            local -a opts
            opts=(\(safe(m.globalOptions).joined(separator: " ")))
            case $cmd in

        """
        for (words, options) in m.commandOptions {
            s += "      (\(alternatives(words))) opts+=(\(safe(options).joined(separator: " "))) ;;\n"
        }
        s += """
            esac
            compadd -- $opts
            return
          fi

          if [[ -z $cmd ]]; then
            local -a commands
            commands=(

        """
        for (word, description) in m.commands where word.allSatisfy(isSafeWordCharacter) {
            s += "      \(quoted(word + ":" + description))\n"
        }
        s += """
            )
            _describe -t commands 'gpuctop command' commands
            return
          fi

          case $cmd in

        """
        if !m.containerCommands.isEmpty {
            s += """
                (\(alternatives(m.containerCommands)))
                  local -a names
                  names=(${(f)"$(${words[1]} $engine complete containers 2>/dev/null)"})
                  compadd -- $names ;;

            """
        }
        if !m.fileCommands.isEmpty {
            s += "    (\(alternatives(m.fileCommands))) _files ;;\n"
        }
        for (command, words) in m.firstWords {
            s += "    (\(command)) [[ $prev == \(command) ]] && compadd -- \(safe(words).joined(separator: " ")) ;;\n"
        }
        s += """
          esac
        }

        if [[ $funcstack[1] == _gpuctop ]]; then
          _gpuctop "$@"
        else
          compdef _gpuctop gpuctop
        fi

        """
        return s
    }
}
