//! Entry point: parse the arguments, run the command, map errors to exit codes
//! (0 success, 1 error, 2 usage error from clap). Nothing a user types or feeds in
//! may end in a panic or a backtrace.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use netlab::cli::{Cli, Command};
use netlab::commands;

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let style = commands::style(cli.color);
    match cli.command {
        Command::Dissect(args) => match commands::dissect::run(&args, style)? {
            commands::dissect::Outcome::Complete => Ok(ExitCode::SUCCESS),
            commands::dissect::Outcome::CutShort => Ok(ExitCode::from(1)),
        },
        Command::TcpHandshake(args) => {
            commands::tcp_handshake::run(&args, style)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ws(cmd) => {
            commands::ws::run(&cmd)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Socketio(cmd) => {
            commands::socketio::run(&cmd)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::WsUpgrade(args) => {
            commands::ws_upgrade::run(&args, style)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tcp(cmd) => {
            commands::tcp::run(&cmd, style)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Udp(cmd) => {
            commands::udp::run(&cmd, style)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ports(args) => {
            commands::ports::run(&args, style)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Race(args) => {
            commands::race::run(&args, style)?;
            Ok(ExitCode::SUCCESS)
        }
        // With `-- CMD`, CMD's exit status.
        Command::Capture(args) => commands::capture::run(&args, style),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "netlab", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if commands::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netlab: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
