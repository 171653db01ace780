// gbench.cc — the C API of gbench.h over Google Benchmark 1.7.x.
//
// Sections: flags (init), registration, reporters (fan-out + collector),
// run, results, state calls. Every extern "C" entry point catches all
// exceptions: a C caller cannot unwind through them.
#include "gbench.h"

#include <benchmark/benchmark.h>
#include <regex.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace
{

static_assert(IPCB_GB_COUNTER_RATE == benchmark::Counter::kIsRate, "flag");
static_assert(IPCB_GB_COUNTER_AVG_THREADS == benchmark::Counter::kAvgThreads, "flag");
static_assert(IPCB_GB_COUNTER_ITER_INVARIANT == benchmark::Counter::kIsIterationInvariant, "flag");
static_assert(IPCB_GB_COUNTER_AVG_ITERATIONS == benchmark::Counter::kAvgIterations, "flag");
static_assert(IPCB_GB_COUNTER_INVERT == (unsigned)benchmark::Counter::kInvert, "flag");

const unsigned kGbFlagMask = IPCB_GB_COUNTER_RATE | IPCB_GB_COUNTER_AVG_THREADS |
                             IPCB_GB_COUNTER_ITER_INVARIANT | IPCB_GB_COUNTER_AVG_ITERATIONS |
                             IPCB_GB_COUNTER_INVERT;

benchmark::State *S(ipcb_gb_state *st)
{
	return reinterpret_cast<benchmark::State *>(st);
}
const benchmark::State *S(const ipcb_gb_state *st)
{
	return reinterpret_cast<const benchmark::State *>(st);
}

// ---- flags -------------------------------------------------------------

bool g_initialized = false;

bool has_prefix(const char *s, const char *p)
{
	return std::strncmp(s, p, std::strlen(p)) == 0;
}

bool is_gbench_arg(const char *a)
{
	return has_prefix(a, "--benchmark_") || has_prefix(a, "--v=");
}

// Google Benchmark answers a bad --benchmark_format / --benchmark_time_unit
// with its help text and exit(0); check them first so a typo is an error.
bool value_in(const char *arg, const char *flag, const char *const *ok)
{
	size_t n = std::strlen(flag);
	if (std::strncmp(arg, flag, n) != 0 || arg[n] != '=')
		return true;
	for (; *ok; ok++)
		if (std::strcmp(arg + n + 1, *ok) == 0)
			return true;
	return false;
}

bool check_enum_flags(const char *a)
{
	static const char *const formats[] = {"console", "json", "csv", nullptr};
	static const char *const units[] = {"ns", "us", "ms", "s", nullptr};
	if (!value_in(a, "--benchmark_format", formats) ||
	    !value_in(a, "--benchmark_out_format", formats)) {
		std::fprintf(stderr, "ipcbench: %s: the format must be console, json or csv\n", a);
		return false;
	}
	if (!value_in(a, "--benchmark_time_unit", units)) {
		std::fprintf(stderr, "ipcbench: %s: the unit must be ns, us, ms or s\n", a);
		return false;
	}
	return true;
}

void no_help()
{
}

// ---- results -----------------------------------------------------------

struct Row {
	std::string name, run_name, family, aggregate_name, time_unit, label, error;
	std::vector<std::string> counter_names;
	std::vector<ipcb_gb_counter_val> counters;
	ipcb_gb_result c{};
};

std::vector<std::unique_ptr<Row>> g_rows;
ipcb_gb_report_cb g_cb = nullptr;
void *g_cb_user = nullptr;

unsigned to_c_flags(const benchmark::Counter &c)
{
	unsigned f = static_cast<unsigned>(c.flags) & kGbFlagMask;
	if (c.oneK == benchmark::Counter::kIs1024)
		f |= IPCB_GB_COUNTER_K1024;
	return f;
}

std::unique_ptr<Row> make_row(const benchmark::BenchmarkReporter::Run &r)
{
	auto row = std::make_unique<Row>();
	row->name = r.benchmark_name();
	row->run_name = r.run_name.str();
	row->family = r.run_name.function_name;
	row->aggregate_name = r.run_type == benchmark::BenchmarkReporter::Run::RT_Aggregate
	                              ? r.aggregate_name
	                              : std::string();
	row->time_unit = benchmark::GetTimeUnitString(r.time_unit);
	row->label = r.report_label;
	row->error = r.error_message;
	for (const auto &kv : r.counters)
		row->counter_names.push_back(kv.first);
	size_t i = 0;
	for (const auto &kv : r.counters) // names are final now: c_str() stays valid
		row->counters.push_back(
		        {row->counter_names[i++].c_str(), kv.second.value, to_c_flags(kv.second)});
	ipcb_gb_result &c = row->c;
	c.name = row->name.c_str();
	c.run_name = row->run_name.c_str();
	c.family = row->family.c_str();
	c.run_type = r.run_type == benchmark::BenchmarkReporter::Run::RT_Aggregate
	                     ? IPCB_GB_RUN_AGGREGATE
	                     : IPCB_GB_RUN_ITERATION;
	c.aggregate_name = row->aggregate_name.c_str();
	c.aggregate_is_percentage =
	        c.run_type == IPCB_GB_RUN_AGGREGATE && r.aggregate_unit == benchmark::kPercentage;
	c.repetition_index = r.repetition_index;
	c.repetitions = r.repetitions;
	c.iterations = r.iterations;
	if (c.aggregate_is_percentage) {
		// what JSONReporter writes too: the fraction itself, not per iteration
		c.real_time = r.real_accumulated_time;
		c.cpu_time = r.cpu_accumulated_time;
	} else {
		c.real_time = r.GetAdjustedRealTime();
		c.cpu_time = r.GetAdjustedCPUTime();
	}
	c.time_unit = row->time_unit.c_str();
	c.label = row->label.c_str();
	c.error_occurred = r.error_occurred;
	c.error_message = row->error.c_str();
	c.n_counters = row->counters.size();
	c.counters = row->counters.empty() ? nullptr : row->counters.data();
	return row;
}

// ---- reporters -----------------------------------------------------------

// Passed to Google Benchmark as the display reporter: forwards to the
// console (or --benchmark_format) reporter and to our JSON file, and keeps
// every row for ipcb_gb_result_at().
class FanOut : public benchmark::BenchmarkReporter
{
      public:
	FanOut(benchmark::BenchmarkReporter *display, benchmark::BenchmarkReporter *json)
	    : display_(display), json_(json)
	{
	}

	bool ReportContext(const Context &ctx) override
	{
		bool ok = display_->ReportContext(ctx);
		if (json_)
			ok = json_->ReportContext(ctx) && ok;
		return ok;
	}

	void ReportRuns(const std::vector<Run> &runs) override
	{
		display_->ReportRuns(runs);
		if (json_)
			json_->ReportRuns(runs);
		size_t first = g_rows.size();
		for (const Run &r : runs)
			g_rows.push_back(make_row(r));
		if (g_cb && !runs.empty())
			g_cb(first, runs.size(), g_cb_user);
	}

	void Finalize() override
	{
		display_->Finalize();
		if (json_)
			json_->Finalize();
	}

      private:
	benchmark::BenchmarkReporter *display_;
	benchmark::BenchmarkReporter *json_;
};

double stat_min(const std::vector<double> &v)
{
	return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
}
double stat_max(const std::vector<double> &v)
{
	return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
}

} // namespace

// ---- extern "C" ------------------------------------------------------------

extern "C" {

int ipcb_gb_init(int *argc, char **argv)
{
	try {
		if (g_initialized) {
			std::fprintf(
			        stderr,
			        "ipcbench: ipcb_gb_init called twice; call it once from main\n");
			return -1;
		}
		g_initialized = true;
		std::vector<char *> gb;
		static char prog[] = "ipcbench";
		gb.push_back(argc && *argc > 0 ? argv[0] : prog);
		int keep = 1, bad = 0;
		int n = argc ? *argc : 0;
		for (int i = 1; i < n; i++) {
			if (is_gbench_arg(argv[i])) {
				if (!check_enum_flags(argv[i]))
					bad++;
				gb.push_back(argv[i]);
			} else {
				argv[keep++] = argv[i];
			}
		}
		if (argc && *argc > 0) {
			*argc = keep;
			argv[keep] = nullptr;
		}
		if (bad)
			return -1;
		int gbc = static_cast<int>(gb.size());
		gb.push_back(nullptr);
		benchmark::Initialize(&gbc, gb.data(), no_help);
		for (int i = 1; i < gbc; i++) {
			std::fprintf(stderr,
			             "ipcbench: unrecognised Google Benchmark flag '%s' (flags are "
			             "--benchmark_NAME=VALUE, e.g. --benchmark_filter=REGEX, "
			             "--benchmark_repetitions=N, --benchmark_min_time=SECONDS as a "
			             "plain number, --benchmark_format=console|json|csv, "
			             "--benchmark_out=FILE)\n",
			             gb[i]);
			bad++;
		}
		return bad ? -1 : 0;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "ipcbench: benchmark::Initialize: %s\n", e.what());
		return -1;
	}
}

int ipcb_gb_register(const char *name, ipcb_gb_fn fn, void *arg, const struct ipcb_gb_opts *opts)
{
	if (!name || !*name || !fn) {
		std::fprintf(stderr, "ipcbench: ipcb_gb_register: needs a name and a function\n");
		return -1;
	}
	ipcb_gb_opts o{};
	if (opts)
		o = *opts;
	if (o.iterations < 0 || o.min_time < 0 || o.min_warmup_time < 0 || o.repetitions < 0 ||
	    o.unit < IPCB_GB_UNIT_DEFAULT || o.unit > IPCB_GB_S) {
		std::fprintf(stderr, "ipcbench: ipcb_gb_register %s: negative or unknown option\n",
		             name);
		return -1;
	}
	if (o.iterations > 0 && (o.min_time > 0 || o.min_warmup_time > 0)) {
		std::fprintf(stderr,
		             "ipcbench: ipcb_gb_register %s: iterations excludes min_time and "
		             "min_warmup_time; set one or the other\n",
		             name);
		return -1;
	}
	try {
		benchmark::internal::Benchmark *b =
		        benchmark::RegisterBenchmark(name, [fn, arg](benchmark::State &st) {
			        fn(reinterpret_cast<ipcb_gb_state *>(&st), arg);
		        });
		if (o.manual_time)
			b->UseManualTime();
		else if (o.real_time)
			b->UseRealTime();
		if (o.process_cpu_time)
			b->MeasureProcessCPUTime();
		if (o.iterations > 0)
			b->Iterations(o.iterations);
		if (o.min_time > 0)
			b->MinTime(o.min_time);
		if (o.min_warmup_time > 0)
			b->MinWarmUpTime(o.min_warmup_time);
		if (o.repetitions > 0)
			b->Repetitions(o.repetitions);
		switch (o.unit) {
		case IPCB_GB_NS:
			b->Unit(benchmark::kNanosecond);
			break;
		case IPCB_GB_US:
			b->Unit(benchmark::kMicrosecond);
			break;
		case IPCB_GB_MS:
			b->Unit(benchmark::kMillisecond);
			break;
		case IPCB_GB_S:
			b->Unit(benchmark::kSecond);
			break;
		case IPCB_GB_UNIT_DEFAULT:
			break;
		}
		if (o.stats & IPCB_GB_STAT_MIN)
			b->ComputeStatistics("min", stat_min);
		if (o.stats & IPCB_GB_STAT_MAX)
			b->ComputeStatistics("max", stat_max);
		if (o.report == IPCB_GB_REPORT_ALL)
			b->ReportAggregatesOnly(false);
		if (o.report == IPCB_GB_REPORT_AGGREGATES_ONLY)
			b->ReportAggregatesOnly(true);
		return 0;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "ipcbench: ipcb_gb_register %s: %s\n", name, e.what());
		return -1;
	}
}

void ipcb_gb_clear(void)
{
	try {
		benchmark::ClearRegisteredBenchmarks();
	} catch (...) {
	}
}

int ipcb_gb_add_context(const char *key, const char *value)
{
	// Google Benchmark writes these itself; a second copy would make the
	// "context" object carry a duplicate key.
	static const char *const builtin[] = {"date",
	                                      "host_name",
	                                      "executable",
	                                      "num_cpus",
	                                      "mhz_per_cpu",
	                                      "cpu_scaling_enabled",
	                                      "caches",
	                                      "load_avg",
	                                      "library_build_type",
	                                      "json_schema_version",
	                                      nullptr};
	if (!key || !*key || !value)
		return -1;
	for (const char *const *b = builtin; *b; b++)
		if (std::strcmp(key, *b) == 0) {
			std::fprintf(stderr,
			             "ipcbench: context key '%s' is Google Benchmark's own; "
			             "use another name\n",
			             key);
			return -1;
		}
	try {
		benchmark::AddCustomContext(key, value);
		return 0;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "ipcbench: AddCustomContext %s: %s\n", key, e.what());
		return -1;
	}
}

bool ipcb_gb_filter_matches(const char *name, const char *spec)
{
	try {
		std::string s = spec ? std::string(spec) : benchmark::GetBenchmarkFilter();
		if (s.empty() || s == "all")
			s = ".";
		bool negative = s[0] == '-';
		if (negative)
			s = s.substr(1);
		// POSIX ERE: the syntax Google Benchmark compiles the filter with
		// (std::regex::extended); std::regex itself trips GCC 12 warnings
		regex_t re;
		if (regcomp(&re, s.c_str(), REG_EXTENDED | REG_NOSUB) != 0)
			return false; // Google Benchmark runs nothing for an invalid regex
		bool hit = regexec(&re, name ? name : "", 0, nullptr, 0) == 0;
		regfree(&re);
		return hit != negative;
	} catch (...) {
		return false; // bad_alloc: say "no match" rather than throw into C
	}
}

void ipcb_gb_set_report_callback(ipcb_gb_report_cb cb, void *user)
{
	g_cb = cb;
	g_cb_user = user;
}

long ipcb_gb_run(const char *out_json_path, const char *spec)
{
	try {
		g_rows.clear();
		std::ofstream out;
		std::unique_ptr<benchmark::JSONReporter> json;
		if (out_json_path) {
			out.open(out_json_path, std::ios::out | std::ios::trunc);
			if (!out) {
				std::fprintf(stderr,
				             "ipcbench: cannot open %s for writing: %s; check the "
				             "directory exists and is writable\n",
				             out_json_path, std::strerror(errno));
				return -1;
			}
			json = std::make_unique<benchmark::JSONReporter>();
			json->SetOutputStream(&out);
			json->SetErrorStream(&out);
		}
		FanOut fan(benchmark::CreateDefaultDisplayReporter(), json.get());
		std::string s = spec ? std::string(spec) : benchmark::GetBenchmarkFilter();
		size_t n = benchmark::RunSpecifiedBenchmarks(&fan, nullptr, s);
		if (out_json_path) {
			out.close();
			if (!out) {
				std::fprintf(stderr, "ipcbench: writing %s failed; disk full?\n",
				             out_json_path);
				return -1;
			}
		}
		return static_cast<long>(n);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "ipcbench: benchmark::RunSpecifiedBenchmarks: %s\n", e.what());
		return -1;
	}
}

void ipcb_gb_shutdown(void)
{
	g_rows.clear();
	g_rows.shrink_to_fit();
	try {
		benchmark::Shutdown();
	} catch (...) {
	}
}

size_t ipcb_gb_result_count(void)
{
	return g_rows.size();
}

const struct ipcb_gb_result *ipcb_gb_result_at(size_t i)
{
	return i < g_rows.size() ? &g_rows[i]->c : nullptr;
}

bool ipcb_gb_result_counter(const struct ipcb_gb_result *r, const char *name, double *value)
{
	if (!r || !name)
		return false;
	for (size_t i = 0; i < r->n_counters; i++)
		if (std::strcmp(r->counters[i].name, name) == 0) {
			if (value)
				*value = r->counters[i].value;
			return true;
		}
	return false;
}

bool ipcb_gb_keep_running(ipcb_gb_state *st)
{
	return S(st)->KeepRunning();
}

bool ipcb_gb_keep_running_batch(ipcb_gb_state *st, int64_t n)
{
	return S(st)->KeepRunningBatch(n > 0 ? n : 1);
}

void ipcb_gb_set_iteration_time(ipcb_gb_state *st, double seconds)
{
	S(st)->SetIterationTime(seconds);
}

void ipcb_gb_pause_timing(ipcb_gb_state *st)
{
	if (!S(st)->error_occurred())
		S(st)->PauseTiming();
}

void ipcb_gb_resume_timing(ipcb_gb_state *st)
{
	if (!S(st)->error_occurred())
		S(st)->ResumeTiming();
}

void ipcb_gb_counter(ipcb_gb_state *st, const char *name, double value, unsigned flags)
{
	try {
		auto f = static_cast<benchmark::Counter::Flags>(flags & kGbFlagMask);
		auto k = (flags & IPCB_GB_COUNTER_K1024) ? benchmark::Counter::kIs1024
		                                         : benchmark::Counter::kIs1000;
		S(st)->counters[name] = benchmark::Counter(value, f, k);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "ipcbench: counter %s: %s\n", name, e.what());
	}
}

void ipcb_gb_set_items_processed(ipcb_gb_state *st, int64_t items)
{
	try {
		S(st)->SetItemsProcessed(items);
	} catch (...) {
	}
}

void ipcb_gb_set_bytes_processed(ipcb_gb_state *st, int64_t bytes)
{
	try {
		S(st)->SetBytesProcessed(bytes);
	} catch (...) {
	}
}

void ipcb_gb_set_label(ipcb_gb_state *st, const char *label)
{
	try {
		S(st)->SetLabel(label ? label : "");
	} catch (...) {
	}
}

void ipcb_gb_skip_with_error(ipcb_gb_state *st, const char *msg)
{
	if (S(st)->error_occurred())
		return;
	try {
		S(st)->SkipWithError(msg && *msg ? msg : "error (no message)");
	} catch (...) {
	}
}

bool ipcb_gb_error_occurred(const ipcb_gb_state *st)
{
	return S(st)->error_occurred();
}

int64_t ipcb_gb_iterations(const ipcb_gb_state *st)
{
	return S(st)->iterations();
}

int64_t ipcb_gb_max_iterations(const ipcb_gb_state *st)
{
	return S(st)->max_iterations;
}

} // extern "C"
