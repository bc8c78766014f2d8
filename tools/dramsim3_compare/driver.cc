// Trace driver for DRAMsim3, used by compare.py. Our code, not DRAMsim3's: it links
// against a DRAMsim3 build (libdramsim3.so) given on the compiler command line.
//
// Usage: driver <config.ini> <trace> <unlimited|trace> <output dir>
// Feeds the trace (`<hex addr> <READ|WRITE> <cycle>` per line) in order, each line
// no earlier than its cycle (or as fast as the controller accepts with
// `unlimited`), a blocked line retried every cycle; ticks until every read has
// returned and every write has been issued to the DRAM. Prints one JSON line:
// cycles (last read data or last write data end), reads, writes, and leaves
// DRAMsim3's own statistics in <output dir>/dramsim3.json.
//
// DRAMsim3 reports a write done when it enters the write buffer; to time writes
// like reads, the driver looks inside the controller (its pending-write map) and
// takes the cycle each write command issues plus CWL + burst. Once the whole trace
// is in, it starts a write drain on a controller with nothing else to do (see the
// main loop), which DRAMsim3 itself never does.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>
#define private public
#define protected public
#include "memory_system.h"
#include "dram_system.h"
#include "controller.h"
#undef private
#undef protected

struct Line {
    uint64_t addr;
    bool write;
    uint64_t cycle;
};

int main(int argc, char** argv) {
    if (argc != 5) {
        std::cerr << "usage: driver <config.ini> <trace> <unlimited|trace> <outdir>\n";
        return 2;
    }
    std::ifstream in(argv[2]);
    if (!in) {
        std::cerr << "cannot read " << argv[2] << "\n";
        return 2;
    }
    std::vector<Line> lines;
    std::string text, op;
    uint64_t lineno = 0;
    while (std::getline(in, text)) {
        lineno++;
        if (text.empty() || text[0] == '#') continue;
        std::istringstream ss(text);
        std::string a;
        Line l;
        if (!(ss >> a >> op >> l.cycle)) {
            std::cerr << argv[2] << ":" << lineno << ": bad line\n";
            return 2;
        }
        l.addr = std::stoull(a, nullptr, 16);
        l.write = (op == "WRITE" || op == "write");
        lines.push_back(l);
    }
    const bool unlimited = std::string(argv[3]) == "unlimited";
    uint64_t clk = 0, last_done = 0, reads_out = 0, reads = 0, writes = 0;
    auto on_read = [&](uint64_t) {
        reads_out--;
        if (clk > last_done) last_done = clk;
    };
    auto on_write = [](uint64_t) {};
    dramsim3::MemorySystem mem(argv[1], argv[4], on_read, on_write);
    auto* sys = static_cast<dramsim3::JedecDRAMSystem*>(mem.dram_system_);
    const uint64_t write_delay = mem.config_->write_delay;
    std::vector<size_t> before(sys->ctrls_.size());
    size_t next = 0;
    for (;;) {
        while (next < lines.size() && (unlimited || lines[next].cycle <= clk) &&
               mem.WillAcceptTransaction(lines[next].addr, lines[next].write)) {
            mem.AddTransaction(lines[next].addr, lines[next].write);
            if (lines[next].write) {
                writes++;
            } else {
                reads++;
                reads_out++;
            }
            next++;
        }
        if (next == lines.size()) {
            // The trace is in: a controller with nothing else to do flushes its
            // write buffer (DRAMsim3 alone would leave up to 8 writes there for
            // ever; Triad does the same after MemorySystem::finish_input).
            for (auto* c : sys->ctrls_) {
                if (c->write_draining_ == 0 && c->read_queue_.empty() &&
                    c->cmd_queue_.QueueEmpty() && !c->write_buffer_.empty()) {
                    c->write_draining_ = c->write_buffer_.size();
                }
            }
        }
        bool writes_pending = false;
        for (size_t i = 0; i < sys->ctrls_.size(); i++) {
            before[i] = sys->ctrls_[i]->pending_wr_q_.size();
            writes_pending |= before[i] > 0;
        }
        if (next == lines.size() && reads_out == 0 && !writes_pending) break;
        mem.ClockTick();
        for (size_t i = 0; i < sys->ctrls_.size(); i++) {
            if (sys->ctrls_[i]->pending_wr_q_.size() < before[i]) {
                // ClockTick issued a WR at controller cycle clk.
                uint64_t end = clk + write_delay;
                if (end > last_done) last_done = end;
            }
        }
        clk++;
    }
    mem.PrintStats();
    std::printf("{\"cycles\": %llu, \"reads\": %llu, \"writes\": %llu}\n",
                (unsigned long long)last_done, (unsigned long long)reads,
                (unsigned long long)writes);
    return 0;
}
