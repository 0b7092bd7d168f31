"""Hint levels of the questions whose modules predate on-demand hints, and of the written
(Derive / Interpret) questions. Level 1 points at the lecture, the last is close to the
answer."""

from __future__ import annotations

from ..hints import register

register("reparameterize",
         "Lecture 06, 'The reparameterisation trick': move the randomness into eps.",
         "logvar is log sigma^2, so the standard deviation is exp(logvar / 2).",
         "z = mu + (standard deviation) * eps, elementwise; broadcasting handles (K, B, Z).")
register("kl_free_bits",
         "Lecture 06, 'The loss', gives the KL to N(0, I) summed over the latent dimensions. "
         "Free bits (Kingma et al. 2016) need it BEFORE that sum: one KL per dimension.",
         "Per image and dimension: 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2), sigma^2 = "
         "exp(logvar), shape (B, Z). Average over the batch first: one KL per dimension, (Z,).",
         "Clamp each of those Z batch averages from below at free_bits (torch.clamp(..., "
         "min=free_bits)), then sum: a 0-d tensor.")
register("negative_elbo",
         "Lecture 06, 'The loss': reconstruction NLL plus KL, per image, then the batch mean. "
         "Here only the observed pixels are data: the decoder factorises over pixels, so a "
         "missing pixel integrates out of p(x | z).",
         "binary_cross_entropy_with_logits(..., reduction='none') gives one NLL per pixel "
         "(B, D); the mask says which of them belong to log p(x_o | z).",
         "Multiply the per-pixel NLL by the mask (all ones when mask is None), sum over the "
         "pixels, add the per-image KL, then average over the batch; no renormalisation.")
register("TiedAutoencoder",
         "Lecture 01's autoencoder, but the decoder owns no weight matrix: it multiplies by "
         "the encoder's W2 and W1 again, in reverse order, transposed.",
         "Two nn.Linear layers (W1, b1 and W2, b2) and two nn.Parameter biases, c2 of shape "
         "(hidden_dim,) and c1 of shape (input_dim,): six parameters in all.",
         "encode: layer2(relu(layer1(x))). forward: relu(code @ W2 + c2) @ W1 + c1, where "
         "code @ W2 + c2 is F.linear(code, W2.T, c2).")
register("emphasised_loss",
         "Lecture 01: the Bernoulli NLL of x under the decoder's logits, in nats per image; "
         "here each pixel's term gets a weight before the sum.",
         "binary_cross_entropy_with_logits with reduction='none' gives one value per pixel; "
         "torch.where(corrupted, alpha, beta) gives one weight per pixel.",
         "Multiply the two, sum over the pixels (dim 1), then average over the batch; do not "
         "divide by the weights.")
register("pca_reconstruct",
         "Lecture 01 compares the AE with PCA: centre with the TRAINING mean, project on the "
         "top-k principal directions of the training data, map back.",
         "The principal directions are the top right-singular vectors of the centred training "
         "matrix (torch.linalg.svd, full_matrices=False).",
         "V_k = Vh[:k].T (D, k); reconstruction = mean + (x_test - mean) @ V_k @ V_k.T.")
register("salt_and_pepper",
         "Lecture 02 shows the corruption types; draw ONE uniform number per pixel from the "
         "generator.",
         "u < fraction / 2 -> 0 (pepper); fraction / 2 <= u < fraction -> 1 (salt); else keep.",
         "torch.rand(x.shape, generator=generator), then torch.where twice.")
register("sparse_kl_grad",
         "Lecture 03, 'Penalty 2': the penalty depends on h only through rho_hat_j = mean_b "
         "h_bj, so use the chain rule through rho_hat.",
         "d/dq [rho log(rho/q) + (1 - rho) log((1 - rho)/(1 - q))] = -rho/q + (1 - rho)/(1 - q); "
         "and d rho_hat_j / d h_bj = 1/B.",
         "Compute that per unit on q = h.mean(0), divide by B, and broadcast it to (B, H) "
         "with .expand_as(h).")
register("tied_contractive_loss",
         "Lecture 04: the encoder h = sigmoid(x W^T + b) has Jacobian diag(h(1-h)) W; with "
         "tied weights the decoder is sigmoid(h W + c).",
         "||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2, per example.",
         "BCE of the decoder's logits h W + c against x summed over pixels, plus lam times the "
         "penalty, both averaged over the batch.")
register("log_weights",
         "Lecture 06, the IWAE estimate: w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x).",
         "log p(x|z) is minus the Bernoulli NLL summed over pixels; vae_edu.losses has "
         "log_normal and log_std_normal for the two Gaussian terms.",
         "Broadcast x (B, D) against logits (K, B, D); keep the (K, B) shape throughout.")
register("condition_on_label",
         "Lecture 08: a CVAE conditions by concatenating a one-hot label to the input.",
         "torch.nn.functional.one_hot(labels, num_classes), as floats.",
         "torch.cat([x, one_hot], dim=1).")
register("TinyCVAE",
         "Lecture 08: q(z|x, y) and p(x|z, y) both see the one-hot label.",
         "Encoder: one Linear(D + C, 2Z) on [x, y]; its first Z outputs are mu, the last Z "
         "logvar. Decoder: one Linear(Z + C, D) on [z, y], returning logits.",
         "Use .chunk(2, dim=1) on the encoder output and torch.cat([z, y], dim=1) for the "
         "decoder.")
register("slerp",
         "Lecture 08, 'Attribute progression: between two conditions', walks a straight line. "
         "Slerp walks the arc of the circle through z0 and z1 instead, at a constant angular "
         "speed (Shoemake 1985; White 2016).",
         "The angle: cos theta = <z0, z1> / (|z0| |z1|) (clamp it to [-1, 1] before arccos). "
         "The endpoints themselves are not normalised.",
         "z_a = (sin((1 - a) theta) z0 + sin(a theta) z1) / sin theta, one row per a "
         "(alphas[:, None]); if |sin theta| < 1e-6 return the straight line.")
register("gradient_loss",
         "Lecture 09, 'L_grad: the same edges as the truth', computes the unmasked loss; "
         "here a difference is a PAIR of neighbouring pixels: when may it count?",
         "Difference first (dx, dy of pred - target), mask afterwards: masking the fields "
         "first makes an edge wherever the mask switches from 1 to 0.",
         "The horizontal pair mask is mask[..., :, 1:] * mask[..., :, :-1] (B, 1, H, W - 1), "
         "the vertical one likewise along H; multiply the squared differences by it, sum "
         "per image, average over the batch.")
register("train_vae",
         "Train exactly as lecture 06 trains its VAE, but with your negative_elbo as the "
         "loss_fn of vae_edu.train.fit.",
         "loss_fn(model, batch): x = batch[0].flatten(1); mu, logvar = model.encode(x); z = "
         "reparameterize(...); return negative_elbo(model.decode(z), x, mu, logvar).",
         "vae_edu.models.VAE(784, 256, 16) trained for b.epochs epochs with lr 1e-3 reaches "
         "the band.")
for qid, text in {
    "derive_kl_normal": "Lecture 06, 'The loss', states the case p = N(0, 1); start from "
                        "the definition of the KL for one latent dimension.",
    "derive_optimal_sigma": "Part 3's gaussian_nll_learned is the function to minimise; "
                            "lecture 06, '\"Can be represented by MSE\": the Gaussian "
                            "decoder', writes it per pixel.",
    "interpret_sigma": "Lecture 06, '\"Can be represented by MSE\": the Gaussian decoder', "
                       "for the NLL per image (to turn 734.7 nats into an error); your "
                       "sigma^2* of part 3 for (a); for (b), redo part 3's derivation for one "
                       "pixel's sigma_i.",
}.items():
    register(qid, text)
for qid, text in {
    "derive_linear_ae": "Lecture 01, the comparison with PCA; for the rank argument, any "
                        "linear-algebra text's section on the truncated SVD.",
    "interpret_ae_codes": "Your answer to derive_linear_ae (c), and lecture 01's figure "
                          "of the 2-D codes next to PCA's.",
    "derive_contractive": "Lecture 04, the closed form of the penalty, and section 3 of "
                          "this problem set (the tied decoder).",
    "interpret_sparse": "Lecture 03, the definitions 'Penalty 1' and 'Penalty 2', and its "
                        "'Hidden activations' histograms.",
    "derive_iwae_jensen": "Lecture 06, 'How good is the model? The ELBO and the IWAE "
                          "estimate of log p(x)', and Burda et al. (2016), Theorem 1.",
    "interpret_iwae": "Rerun the demo of part 2 a few times and look at how much each "
                      "line moves.",
    "derive_cvae_elbo": "Lecture 08, 'Conditioning: give both networks the label', and "
                        "lecture 06, 'The variational posterior and the ELBO' (the same "
                        "steps with y added everywhere).",
    "interpret_y_in_z": "Lecture 08, '$q(z \\mid x, y)$ vs $q(z \\mid x)$', and the "
                        "probe of part 6 of this set.",
    "derive_l2_mean": "Lecture 09, 'Why L2 regression is overly smooth'; to see which "
                      "colour a Lab value is, vae_edu.colorization.lab_to_rgb converts it.",
    "interpret_diversity": "Lecture 09, 'Three models side by side': look at how each "
                           "score is computed.",
}.items():
    register(qid, text)
register("two_layer_contractive",
         "Lecture 04: one sigmoid layer has the Jacobian diag(h (1 - h)) W; the Jacobian of a "
         "composition is the PRODUCT of the layers' Jacobians (chain rule).",
         "Per image J = diag(s2) W2 diag(s1) W1, shape (H2, D), with s = h (1 - h) for each "
         "layer; it is neither the sum nor the product of the two one-layer penalties.",
         "(s2[:, :, None] * W2) @ (s1[:, :, None] * W1) is the (B, H2, D) batch of Jacobians: "
         "square it, sum over dims 1 and 2, average over the batch.")
register("iwae_weights",
         "Lecture 06, 'How good is the model? The ELBO and the IWAE estimate of log p(x)', "
         "averages the weights exp(w_k); here each weight is divided by their sum instead, per "
         "data point.",
         "w~_k = exp(w_k) / sum_j exp(w_j) = exp(w_k - logsumexp_j w_j): stay in log space "
         "(exp(w) is 0 near -1500). The ESS is 1 / sum_k w~_k^2 (Kish).",
         "weights = torch.softmax(log_weights, dim=0) (K, B); ess = 1 / (weights ** 2).sum(0) "
         "(B,); return both.")
for qid, text in {
    "derive_conv_params": "Lecture 07, 'The curse of dimensionality of fully connected "
                          "layers' and 'The convolutional VAE' (its layer table).",
    "interpret_conv_params": "Your table of part 2, and lecture 07, 'A convolution is "
                             "one small filter slid over the image'.",
    "derive_ridge_probe": "Write the loss with traces, as for least squares; the penalty "
                          "is a quadratic form in W.",
    "interpret_pretraining": "The raw-pixel line above, and lecture 05, 'Few labels: "
                             "pretrained vs from scratch'.",
}.items():
    register(qid, text)
register("derive_elbo_gap",
         "Lecture 06, 'The variational posterior and the ELBO' and 'The gap closes as $q$ "
         "approaches the posterior'; here q is a diagonal Gaussian and p(z | x) is your "
         "lg_posterior.")
# (the hints of the problem sets' newer questions live next to their questions)
