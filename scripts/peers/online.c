#include <math.h>

static double logistic(double net) { return 1.0 / (1.0 + exp(-net)); }

/* Online backpropagation for one hidden layer; N_IN, N_HID, N_OUT are compiled in. */
void train(double *restrict W1, double *restrict b1, double *restrict W2, double *restrict b2,
           const double *restrict X, const double *restrict Y, long n_samples, long epochs, double lr,
           int train_biases) {
    double h[N_HID], o[N_OUT], d1[N_HID], d2[N_OUT];
    for (long e = 0; e < epochs; e++) {
        for (long s = 0; s < n_samples; s++) {
            const double *x = X + s * N_IN, *y = Y + s * N_OUT;
            for (int j = 0; j < N_HID; j++) {
                double net = b1[j];
                for (int i = 0; i < N_IN; i++) net += W1[j * N_IN + i] * x[i];
                h[j] = logistic(net);
            }
            for (int k = 0; k < N_OUT; k++) {
                double net = b2[k];
                for (int j = 0; j < N_HID; j++) net += W2[k * N_HID + j] * h[j];
                o[k] = logistic(net);
                d2[k] = (o[k] - y[k]) * o[k] * (1.0 - o[k]);
            }
            for (int j = 0; j < N_HID; j++) {
                double sum = 0.0;
                for (int k = 0; k < N_OUT; k++) sum += W2[k * N_HID + j] * d2[k];
                d1[j] = sum * h[j] * (1.0 - h[j]);
            }
            for (int k = 0; k < N_OUT; k++) {
                for (int j = 0; j < N_HID; j++) W2[k * N_HID + j] -= lr * d2[k] * h[j];
                if (train_biases) b2[k] -= lr * d2[k];
            }
            for (int j = 0; j < N_HID; j++) {
                for (int i = 0; i < N_IN; i++) W1[j * N_IN + i] -= lr * d1[j] * x[i];
                if (train_biases) b1[j] -= lr * d1[j];
            }
        }
    }
}
