//! Entry point: parse the arguments, run the command, map errors to exit codes
//! (0 success, 1 error, 2 usage error from clap). Nothing a user types or feeds in
//! may end in a panic or a backtrace; a closed standard output (`netlab … | head`)
//! ends quietly with 0.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use netlab::cli::{Cli, Command};
use netlab::commands;
use netlab::render::Output;

fn run(cli: Cli, out: &Output) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dissect(args) => match commands::dissect::run(&args, out)? {
            commands::dissect::Outcome::Complete => Ok(ExitCode::SUCCESS),
            commands::dissect::Outcome::CutShort => Ok(ExitCode::from(1)),
        },
        Command::TcpHandshake(args) => {
            commands::tcp_handshake::run(&args, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ws(cmd) => {
            commands::ws::run(&cmd, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Socketio(cmd) => {
            commands::socketio::run(&cmd, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::WsUpgrade(args) => {
            commands::ws_upgrade::run(&args, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tcp(cmd) => {
            commands::tcp::run(&cmd, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Udp(cmd) => {
            commands::udp::run(&cmd, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Ports(args) => {
            commands::ports::run(&args, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Race(args) => {
            commands::race::run(&args, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Congestion(args) => {
            commands::congestion::run(&args, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Nagle(args) => {
            commands::nagle::run(&args, out)?;
            Ok(ExitCode::SUCCESS)
        }
        // With `-- CMD`, CMD's exit status.
        Command::Capture(args) => commands::capture::run(&args, out),
        Command::Lesson(args) => match commands::lesson::run(&args, out)? {
            commands::lesson::Outcome::Done => Ok(ExitCode::SUCCESS),
            commands::lesson::Outcome::NotAllRight => Ok(ExitCode::from(1)),
        },
        Command::Man { subcommand } => {
            let mut cmd = Cli::command();
            cmd.build();
            let page = match subcommand {
                None => cmd,
                Some(name) => cmd
                    .find_subcommand(&name)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("no subcommand `{name}` (see netlab --help)"))?
                    .name(format!("netlab-{name}")),
            };
            let mut roff = Vec::new();
            clap_mangen::Man::new(page).render(&mut roff)?;
            out.bytes(&roff)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            // Generated into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "netlab", &mut script);
            out.bytes(&script)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = commands::output(cli.color);
    match run(cli, &out) {
        Ok(code) => code,
        // The reader of our standard output left: nothing more to say, to anyone.
        Err(_) if out.is_closed() => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "netlab: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
