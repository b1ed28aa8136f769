#include <cmath>
#include <cstdint>

#include "kernels/norm.h"

namespace wsvis::kernels::cpu {

namespace {
// Element (n, c, s) of an (N, C, S) tensor.
inline int64_t at(int64_t n, int64_t c, int64_t s, int64_t C, int64_t S) {
  return (n * C + c) * S + s;
}
}  // namespace

// ---- batch norm ----------------------------------------------------------------------------

template <typename T>
void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, T* mean, T* var) {
  const int64_t count = N * S;
#pragma omp parallel for if (N * C * S > (1 << 16))
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) sum += static_cast<double>(x[at(n, c, s, C, S)]);
    const double m = count > 0 ? sum / static_cast<double>(count) : 0.0;
    double sq = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const double d = static_cast<double>(x[at(n, c, s, C, S)]) - m;
        sq += d * d;
      }
    mean[c] = static_cast<T>(m);
    var[c] = static_cast<T>(count > 0 ? sq / static_cast<double>(count) : 0.0);
  }
}

template <typename T>
void batch_norm_finalize(const T* mean, const T* var, int64_t C, int64_t count, double eps,
                         double momentum, T* running_mean, T* running_var, T* inv_std) {
  for (int64_t c = 0; c < C; ++c) {
    const double v = static_cast<double>(var[c]);
    inv_std[c] = static_cast<T>(1.0 / std::sqrt(v + eps));
    if (running_mean) {
      running_mean[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[c]) +
                                       momentum * static_cast<double>(mean[c]));
      running_var[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_var[c]) +
                                      momentum * unbiased_variance(v, count));
    }
  }
}

template <typename T>
void batch_norm_forward(const T* x, const T* mean, const T* inv_std, const T* weight,
                        const T* bias, int64_t N, int64_t C, int64_t S, T* y) {
#pragma omp parallel for collapse(2) if (N * C * S > (1 << 16))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T w = weight ? weight[c] : T(1);
      const T b = bias ? bias[c] : T(0);
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = at(n, c, s, C, S);
        y[i] = (x[i] - mean[c]) * inv_std[c] * w + b;
      }
    }
}

template <typename T>
void batch_norm_backward_reduce(const T* grad_y, const T* x, const T* mean, const T* inv_std,
                                int64_t N, int64_t C, int64_t S, T* sum_g, T* sum_g_xhat) {
#pragma omp parallel for if (N * C * S > (1 << 16))
  for (int64_t c = 0; c < C; ++c) {
    const double m = static_cast<double>(mean[c]), r = static_cast<double>(inv_std[c]);
    double sg = 0, sgx = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = at(n, c, s, C, S);
        const double g = static_cast<double>(grad_y[i]);
        sg += g;
        sgx += g * (static_cast<double>(x[i]) - m) * r;
      }
    sum_g[c] = static_cast<T>(sg);
    sum_g_xhat[c] = static_cast<T>(sgx);
  }
}

template <typename T>
void batch_norm_backward_input(const T* grad_y, const T* x, const T* mean, const T* inv_std,
                               const T* weight, const T* sum_g, const T* sum_g_xhat, int64_t N,
                               int64_t C, int64_t S, bool training, T* grad_x) {
  const double inv_count = 1.0 / static_cast<double>(N * S > 0 ? N * S : 1);
#pragma omp parallel for collapse(2) if (N * C * S > (1 << 16))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const double w = weight ? static_cast<double>(weight[c]) : 1.0;
      const double m = static_cast<double>(mean[c]), r = static_cast<double>(inv_std[c]);
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = at(n, c, s, C, S);
        const double dxhat = static_cast<double>(grad_y[i]) * w;
        if (training) {
          const double xhat = (static_cast<double>(x[i]) - m) * r;
          grad_x[i] = static_cast<T>(norm_grad_input<double>(
              dxhat, xhat, r, static_cast<double>(sum_g[c]) * w,
              static_cast<double>(sum_g_xhat[c]) * w, inv_count));
        } else {
          grad_x[i] = static_cast<T>(dxhat * r);
        }
      }
    }
}

template <typename T>
void frozen_batch_norm_coefficients(const T* weight, const T* bias, const T* running_mean,
                                    const T* running_var, int64_t C, double eps, T* scale,
                                    T* shift) {
  for (int64_t c = 0; c < C; ++c) {
    const double sc = static_cast<double>(weight[c]) /
                      std::sqrt(static_cast<double>(running_var[c]) + eps);
    scale[c] = static_cast<T>(sc);
    shift[c] = static_cast<T>(static_cast<double>(bias[c]) -
                              static_cast<double>(running_mean[c]) * sc);
  }
}

template <typename T>
void channel_affine(const T* x, const T* scale, const T* shift, int64_t N, int64_t C, int64_t S,
                    T* y) {
#pragma omp parallel for collapse(2) if (N * C * S > (1 << 16))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T a = scale[c];
      const T b = shift ? shift[c] : T(0);
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = at(n, c, s, C, S);
        y[i] = x[i] * a + b;
      }
    }
}

// ---- group norm ----------------------------------------------------------------------------

template <typename T>
void group_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, int64_t G, double eps, T* mean,
                      T* inv_std) {
  const int64_t D = C / G * S;  // elements per group, contiguous
#pragma omp parallel for if (N * C * S > (1 << 16))
  for (int64_t ng = 0; ng < N * G; ++ng) {
    const T* group = x + ng * D;
    double sum = 0;
    for (int64_t j = 0; j < D; ++j) sum += static_cast<double>(group[j]);
    const double m = sum / static_cast<double>(D);
    double sq = 0;
    for (int64_t j = 0; j < D; ++j) {
      const double d = static_cast<double>(group[j]) - m;
      sq += d * d;
    }
    mean[ng] = static_cast<T>(m);
    inv_std[ng] = static_cast<T>(1.0 / std::sqrt(sq / static_cast<double>(D) + eps));
  }
}

template <typename T>
void group_norm_forward(const T* x, const T* mean, const T* inv_std, const T* weight,
                        const T* bias, int64_t N, int64_t C, int64_t S, int64_t G, T* y) {
  const int64_t Cg = C / G;
#pragma omp parallel for collapse(2) if (N * C * S > (1 << 16))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t ng = n * G + c / Cg;
      const T w = weight ? weight[c] : T(1);
      const T b = bias ? bias[c] : T(0);
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = at(n, c, s, C, S);
        y[i] = (x[i] - mean[ng]) * inv_std[ng] * w + b;
      }
    }
}

template <typename T>
void group_norm_backward_reduce(const T* grad_y, const T* x, const T* mean, const T* inv_std,
                                const T* weight, int64_t N, int64_t C, int64_t S, int64_t G,
                                T* sum_dxhat, T* sum_dxhat_xhat) {
  const int64_t Cg = C / G, D = Cg * S;
#pragma omp parallel for if (N * C * S > (1 << 16))
  for (int64_t ng = 0; ng < N * G; ++ng) {
    const double m = static_cast<double>(mean[ng]), r = static_cast<double>(inv_std[ng]);
    const int64_t c0 = (ng % G) * Cg;
    double sd = 0, sdx = 0;
    for (int64_t j = 0; j < D; ++j) {
      const int64_t i = ng * D + j;
      const double w = weight ? static_cast<double>(weight[c0 + j / S]) : 1.0;
      const double dxhat = static_cast<double>(grad_y[i]) * w;
      sd += dxhat;
      sdx += dxhat * (static_cast<double>(x[i]) - m) * r;
    }
    sum_dxhat[ng] = static_cast<T>(sd);
    sum_dxhat_xhat[ng] = static_cast<T>(sdx);
  }
}

template <typename T>
void group_norm_backward_input(const T* grad_y, const T* x, const T* mean, const T* inv_std,
                               const T* weight, const T* sum_dxhat, const T* sum_dxhat_xhat,
                               int64_t N, int64_t C, int64_t S, int64_t G, T* grad_x) {
  const int64_t Cg = C / G;
  const double inv_count = 1.0 / static_cast<double>(Cg * S);
#pragma omp parallel for collapse(2) if (N * C * S > (1 << 16))
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const int64_t ng = n * G + c / Cg;
      const double w = weight ? static_cast<double>(weight[c]) : 1.0;
      const double m = static_cast<double>(mean[ng]), r = static_cast<double>(inv_std[ng]);
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = at(n, c, s, C, S);
        const double xhat = (static_cast<double>(x[i]) - m) * r;
        grad_x[i] = static_cast<T>(norm_grad_input<double>(
            static_cast<double>(grad_y[i]) * w, xhat, r, static_cast<double>(sum_dxhat[ng]),
            static_cast<double>(sum_dxhat_xhat[ng]), inv_count));
      }
    }
}

template <typename T>
void group_norm_backward_params(const T* grad_y, const T* x, const T* mean, const T* inv_std,
                                int64_t N, int64_t C, int64_t S, int64_t G, T* grad_weight,
                                T* grad_bias) {
  const int64_t Cg = C / G;
#pragma omp parallel for if (N * C * S > (1 << 16))
  for (int64_t c = 0; c < C; ++c) {
    double sg = 0, sgx = 0;
    for (int64_t n = 0; n < N; ++n) {
      const int64_t ng = n * G + c / Cg;
      const double m = static_cast<double>(mean[ng]), r = static_cast<double>(inv_std[ng]);
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = at(n, c, s, C, S);
        const double g = static_cast<double>(grad_y[i]);
        sg += g;
        sgx += g * (static_cast<double>(x[i]) - m) * r;
      }
    }
    grad_weight[c] = static_cast<T>(sgx);
    grad_bias[c] = static_cast<T>(sg);
  }
}

#define WSVIS_INSTANTIATE_NORM(T)                                                              \
  template void batch_norm_stats<T>(const T*, int64_t, int64_t, int64_t, T*, T*);              \
  template void batch_norm_finalize<T>(const T*, const T*, int64_t, int64_t, double, double,   \
                                       T*, T*, T*);                                            \
  template void batch_norm_forward<T>(const T*, const T*, const T*, const T*, const T*,        \
                                      int64_t, int64_t, int64_t, T*);                          \
  template void batch_norm_backward_reduce<T>(const T*, const T*, const T*, const T*, int64_t, \
                                              int64_t, int64_t, T*, T*);                       \
  template void batch_norm_backward_input<T>(const T*, const T*, const T*, const T*, const T*, \
                                             const T*, const T*, int64_t, int64_t, int64_t,    \
                                             bool, T*);                                        \
  template void frozen_batch_norm_coefficients<T>(const T*, const T*, const T*, const T*,      \
                                                  int64_t, double, T*, T*);                    \
  template void channel_affine<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t, T*); \
  template void group_norm_stats<T>(const T*, int64_t, int64_t, int64_t, int64_t, double, T*,  \
                                    T*);                                                       \
  template void group_norm_forward<T>(const T*, const T*, const T*, const T*, const T*,        \
                                      int64_t, int64_t, int64_t, int64_t, T*);                 \
  template void group_norm_backward_reduce<T>(const T*, const T*, const T*, const T*,          \
                                              const T*, int64_t, int64_t, int64_t, int64_t,    \
                                              T*, T*);                                         \
  template void group_norm_backward_input<T>(const T*, const T*, const T*, const T*, const T*, \
                                             const T*, const T*, int64_t, int64_t, int64_t,    \
                                             int64_t, T*);                                     \
  template void group_norm_backward_params<T>(const T*, const T*, const T*, const T*, int64_t, \
                                              int64_t, int64_t, int64_t, T*, T*);
WSVIS_INSTANTIATE_NORM(float)
WSVIS_INSTANTIATE_NORM(double)

}  // namespace wsvis::kernels::cpu
